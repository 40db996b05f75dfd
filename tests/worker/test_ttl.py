"""A trade's time-to-live at the worker: never handed out expired, never sent late.

`expires_at` is set by the functions; here it is set in SQL, from the database's clock.
"""

from __future__ import annotations

import threading
import time
import uuid

from switchyard.db import Connection, connect
from switchyard.domain import Venue
from tests.worker.helpers import (
    SIM_ACCOUNTS,
    order,
    running,
    set_faults,
    sim_state,
    wait_job,
    wait_status,
)
from worker.queue import JobQueue
from worker.retry import Backoff
from worker.schedule import Scheduler

ALICE, BOB = SIM_ACCOUNTS[0], SIM_ACCOUNTS[1]


def _expires_in(db: Connection, job: uuid.UUID, seconds: float) -> None:
    db.execute(
        "update public.jobs set expires_at = now() + make_interval(secs => %s) where id = %s",
        (seconds, job),
    )


def _enqueue_expiring(db: Connection, enqueue, account, seconds: float) -> uuid.UUID:
    """An order that lives `seconds`, visible to a running worker only with its deadline
    (one transaction: a worker that claimed it in between would see no deadline at all)."""
    with db.transaction():
        job = enqueue(account, "order", order())
        _expires_in(db, job, seconds)
    return job


def _journal(db: Connection, job: uuid.UUID) -> dict | None:
    return db.execute(
        "select status, retcode, reason from public.orders where job_id = %s", (job,)
    ).fetchone()


def _leased(worker) -> None:
    """The worker holds its terminal (so that a job is claimed the moment it arrives)."""
    assert worker.lanes[0].holds_terminal.wait(20)


def test_the_claim_cancels_expired_queued_jobs_and_says_how_long_the_claimed_one_has(
    db, db_url, make_account, enqueue
):
    alice, bob = make_account(ALICE), make_account(BOB)
    late = enqueue(alice, "order", order())
    _expires_in(db, late, -1)
    fresh = enqueue(bob, "order", order())
    _expires_in(db, fresh, 60)
    with connect(db_url, autocommit=True) as conn:
        queue = JobQueue(conn, "w1", 30)
        job = queue.claim({Venue.MT5})
        assert job is not None
        assert job.id == fresh
        remaining = job.deadline.remaining_s()
        assert remaining is not None
        assert 50 < remaining <= 60
        assert queue.claim({Venue.MT5}) is None
    row = db.execute(
        "select status, error, finished_at, started_at from public.jobs where id = %s", (late,)
    ).fetchone()
    assert row["status"] == "cancelled"
    assert row["error"]["code"] == "expired"
    assert "time-to-live" in row["error"]["message"]
    assert "nothing was sent" in row["error"]["message"]
    assert row["finished_at"] is not None
    assert row["started_at"] is None


def test_an_expired_job_whose_order_may_have_been_sent_is_handed_out_to_be_looked_up(
    db, db_url, make_account, enqueue
):
    alice = make_account(ALICE)
    job_id = enqueue(alice, "order", order())
    _expires_in(db, job_id, -1)
    db.execute(
        "insert into public.orders (user_id, account_id, job_id, client_order_id, action,"
        " symbol, status) values (%s, %s, %s, 'sy-test', 'open', 'EURUSD', 'unknown')",
        (alice.user_id, alice.id, job_id),
    )
    with connect(db_url, autocommit=True) as conn:
        job = JobQueue(conn, "w1", 30).claim({Venue.MT5})
    assert job is not None
    assert job.id == job_id
    assert job.deadline.passed()


def test_the_scheduler_ends_expired_jobs_even_when_no_lane_claims(
    db, db_url, make_account, enqueue
):
    alice = make_account(ALICE)
    job = enqueue(alice, "order", order())
    _expires_in(db, job, 0.5)
    stop = threading.Event()
    scheduler = Scheduler(
        db_url,
        sync_interval_s=300,
        verify_interval_s=86_400,
        tick_s=0.2,
        stop=stop,
        backoff=Backoff(0.1, 1.0),
    )
    scheduler.start()
    try:
        row = wait_job(db, job, timeout_s=20)
    finally:
        stop.set()
        scheduler.nudge.set()
        scheduler.join(5)
    assert (row["status"], row["error"]["code"]) == ("cancelled", "expired")


def test_a_login_that_ends_after_the_deadline_sends_nothing(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    set_faults(sim, hang_next_login_s=60)  # held until released below
    with running(worker_settings(sim, mt5_login_timeout_s=20)) as worker:
        _leased(worker)
        job = _enqueue_expiring(db, enqueue, alice, 3)
        wait_status(db, job, {"running"})
        while db.execute(
            "select now() < expires_at as early from public.jobs where id = %s", (job,)
        ).fetchone()["early"]:
            time.sleep(0.05)
        control = sim.control()
        try:
            control.modules.MetaTrader5._sim.clear_faults()  # the login completes, too late
        finally:
            control.close()
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("cancelled", "expired"), row
    assert "nothing was sent" in row["error"]["message"]
    assert sim.journal() == []
    assert sim_state(sim)["login"] == ALICE["login"]  # the login itself went through
    assert _journal(db, job)["status"] == "rejected"


def test_a_hung_login_is_not_retried_past_the_deadline(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    with running(worker_settings(sim)) as worker:
        _leased(worker)
        # the login outlasts rpyc's timeout (login timeout + margin = 7 s); 3 s to live
        set_faults(sim, hang_next_login_s=8.0)
        job = _enqueue_expiring(db, enqueue, alice, 3)
        row = wait_job(db, job, timeout_s=60)
    assert (row["status"], row["error"]["code"]) == ("cancelled", "expired"), row
    assert "before it could be tried again" in row["error"]["message"]
    assert "did not come back" in row["error"]["message"]  # why it would have been retried
    assert row["attempts"] == 1
    assert sim.journal() == []


def test_a_requote_is_not_retried_when_the_retry_would_come_after_the_deadline(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    set_faults(sim, next_send_retcodes=[10004])  # requote: nothing executed
    settings = worker_settings(sim, worker_retry_base_s=5.0, worker_retry_max_s=5.0)
    with running(settings) as worker:
        _leased(worker)
        job = _enqueue_expiring(db, enqueue, alice, 3)
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("cancelled", "expired"), row
    assert "requote" in row["error"]["message"]
    assert row["attempts"] == 1
    assert sim.journal() == []
    assert _journal(db, job)["retcode"] == 10004


def test_after_an_ambiguous_send_the_order_is_looked_up_past_the_deadline_and_succeeds(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    set_faults(sim, lose_next_send_results=1)  # executed, but no answer
    settings = worker_settings(sim, worker_retry_base_s=4.0, worker_retry_max_s=4.0)
    with running(settings) as worker:
        _leased(worker)
        job = _enqueue_expiring(db, enqueue, alice, 2)
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert row["attempts"] == 2
    [executed] = sim.journal()
    assert row["result"]["order"] == str(executed["order"])


def test_after_an_ambiguous_send_that_did_not_happen_nothing_is_sent_past_the_deadline(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    set_faults(sim, next_send_retcodes=[10012])  # TIMEOUT: unknown, and in fact not executed
    settings = worker_settings(sim, worker_retry_base_s=4.0, worker_retry_max_s=4.0)
    with running(settings) as worker:
        _leased(worker)
        job = _enqueue_expiring(db, enqueue, alice, 2)
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("cancelled", "expired"), row
    assert row["attempts"] == 2  # looked up first, then not sent again
    assert sim.journal() == []


def test_a_rescued_job_past_its_deadline_with_nothing_to_look_up_ends_before_any_login(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    job = enqueue(alice, "order", order())
    # a worker claimed it and died before it journalled anything; its deadline has passed
    db.execute(
        "update public.jobs set status = 'running', attempts = 1, started_at = now(),"
        " lease_owner = 'dead-worker', lease_expires_at = now() - interval '1 second',"
        " expires_at = now() - interval '1 second' where id = %s",
        (job,),
    )
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("cancelled", "expired"), row
    assert row["attempts"] == 2
    assert sim_state(sim)["login"] is None  # not even logged in
    assert sim.journal() == []
