"""A worker statement never hangs: past SWITCHYARD_WORKER_STATEMENT_TIMEOUT_S (a lock held
by someone else, a runaway query) it is cancelled, the lane backs off as from any database
failure and the job is finished later, once; it is not left running under leases that the
heartbeat keeps renewing."""

from __future__ import annotations

import logging
import time

import pytest

from switchyard.db import connect, wrap_exceptions
from switchyard.errors import DatabaseError
from tests.worker.helpers import SIM_ACCOUNTS, running, wait_job


def test_a_statement_past_the_timeout_is_cancelled_as_a_database_error(db_url):
    with connect(db_url, autocommit=True, statement_timeout_s=0.2) as conn:
        started = time.monotonic()
        with pytest.raises(DatabaseError, match="statement timeout"), wrap_exceptions():
            conn.execute("select pg_sleep(5)")
        assert time.monotonic() - started < 3
        assert conn.execute("select 1 as one").fetchone()["one"] == 1  # still usable
    with connect(db_url, statement_timeout_s=1.5) as conn:  # in a transaction too
        assert conn.execute("show statement_timeout").fetchone()["statement_timeout"] == "1500ms"


def lane_cancelled(caplog: pytest.LogCaptureFixture) -> bool:
    """Whether a lane (not the scheduler, which reads the orders too) saw its statement
    cancelled."""
    return any(
        r.name == "worker.lane" and "statement timeout" in r.getMessage() for r in caplog.records
    )


def test_a_lane_blocked_on_a_lock_gives_up_and_the_order_is_sent_once_later(
    db, db_url, sim, make_account, enqueue, worker_settings, caplog
):
    account = make_account(SIM_ACCOUNTS[0])
    settings = worker_settings(sim, worker_statement_timeout_s=0.5)
    with connect(db_url) as holder, running(settings) as worker:
        # Someone holds the journal of orders: the lane's write before the send must wait.
        holder.execute("lock table public.orders in access exclusive mode")
        with caplog.at_level(logging.WARNING, logger="worker"):
            job = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
            deadline = time.monotonic() + 10
            while not lane_cancelled(caplog) and time.monotonic() < deadline:
                time.sleep(0.1)
        assert lane_cancelled(caplog), caplog.text  # cancelled, while the lock is still held
        assert sim.journal() == []  # nothing was sent without its journal row
        assert worker.dead_threads() == []
        holder.rollback()  # the lock is released
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert len(sim.journal()) == 1
