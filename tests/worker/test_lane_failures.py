"""A lane never dies silently: a job whose handler raises still ends, the lane goes on, and a
lane that does die takes its worker down (non-zero) so that its job is rescued elsewhere."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

import worker.heartbeat
from switchyard.db import Connection
from switchyard.domain import client_order_id
from tests.worker.helpers import (
    SIM_ACCOUNTS,
    TRIGGER_MESSAGE,
    drop_failing_trigger,
    install_failing_trigger,
    order,
    running,
    spawn_worker,
    stop_worker,
    wait_job,
)
from worker.heartbeat import Heartbeat
from worker.leases import Holdings
from worker.process import EXIT_THREAD_DIED

ALICE, BOB = SIM_ACCOUNTS[0], SIM_ACCOUNTS[1]

#: A trigger that refuses to let a running job end: the lane cannot write any outcome back.
REFUSE_FINISH = {
    "table": "public.jobs",
    "event": "before update of status",
    "when": "old.status = 'running' and new.status <> 'running'",
    "errcode": "23514",  # check_violation
}


def test_a_handler_that_raises_fails_its_job_with_a_reason_and_the_lane_goes_on(
    db, sim, make_account, enqueue, worker_settings, caplog
):
    caplog.set_level(logging.INFO)
    alice = make_account(ALICE)
    # the journal insert before the send raises a UniqueViolation, once
    install_failing_trigger(db, table="public.orders", event="before insert", once=True)
    first = enqueue(alice, "order", order())
    with running(worker_settings(sim)) as worker:
        broken = wait_job(db, first)
        second = enqueue(alice, "order", order("sell"))
        fine = wait_job(db, second)
        assert worker.lanes[0].is_alive()
    assert (broken["status"], broken["error"]["code"]) == ("failed", "internal")
    assert "no order was sent" in broken["error"]["message"]
    assert "test_marker_5b2e" not in str(broken)  # the exception's text stays in the log
    assert fine["status"] == "succeeded", fine
    [executed] = sim.journal()
    assert executed["comment"] == client_order_id(second)
    assert TRIGGER_MESSAGE in caplog.text
    assert "Traceback" in caplog.text


def test_an_error_after_the_send_is_settled_by_a_look_up_not_a_second_order(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    # recording the fill raises, once: the order went out, the journal still says `sent`
    install_failing_trigger(
        db, table="public.orders", event="before update", when="new.status = 'filled'", once=True
    )
    job = enqueue(alice, "order", order())
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert row["attempts"] == 2
    [executed] = sim.journal()
    assert row["result"]["order"] == str(executed["order"])
    journal = db.execute("select status from public.orders where job_id = %s", (job,)).fetchone()
    assert journal["status"] == "filled"


def test_a_job_whose_outcome_could_not_be_written_is_answered_from_the_journal_not_resent(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    # the order is filled and journalled, but marking the job succeeded fails, once
    install_failing_trigger(db, **{**REFUSE_FINISH, "once": True})
    job = enqueue(alice, "order", order())
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert row["attempts"] == 2
    assert row["result"]["status"] == "filled"
    assert len(sim.journal()) == 1


def test_the_job_of_a_lane_that_died_is_no_longer_renewed(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    install_failing_trigger(db, **REFUSE_FINISH)  # nothing can be written back: the lane ends
    with running(worker_settings(sim)) as worker:
        job = enqueue(alice, "order", order())
        lane = worker.lanes[0]
        deadline = time.monotonic() + 30
        while lane.is_alive():
            assert time.monotonic() < deadline, "the lane did not stop"
            time.sleep(0.05)
        lease = "select status, lease_owner, lease_expires_at from public.jobs where id = %s"
        before = db.execute(lease, (job,)).fetchone()
        worker.heartbeat.beat()
        after = db.execute(lease, (job,)).fetchone()
        assert before["status"] == "running"
        assert before["lease_owner"] == worker.owner
        assert after["lease_expires_at"] == before["lease_expires_at"]
        assert worker.dead_threads() == [lane.name]
        free = db.execute("select lease_owner from private.terminals").fetchone()
        assert free["lease_owner"] is None  # the dead lane let its terminal go


def test_beats_from_two_threads_share_one_connection(db_url, monkeypatch: pytest.MonkeyPatch):
    # The test above beats from its own thread while the heartbeat thread beats too. Two
    # beats that both found no connection each opened one, and the one overwritten was
    # left open (CI failed on its ResourceWarning); they also shared one transaction.
    opened: list[Connection] = []
    real_connect = worker.heartbeat.connect

    def slow_connect(*args, **kwargs) -> Connection:
        time.sleep(0.2)  # long enough for every thread to look before the first is done
        conn = real_connect(*args, **kwargs)
        opened.append(conn)
        return conn

    monkeypatch.setattr(worker.heartbeat, "connect", slow_connect)
    beat = Heartbeat(db_url, "nobody/1", Holdings(), lease_s=30, every_s=1, stop=threading.Event())
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def one() -> None:
        start.wait()
        try:
            beat.beat()
        except BaseException as exc:  # handed to the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        assert len(opened) == 1
    finally:
        for conn in opened:
            conn.close()


def test_a_worker_whose_lane_died_exits_non_zero_and_another_worker_rescues_its_job(
    db, start_sim, make_account, enqueue, worker_settings, tmp_path: Path
):
    sim = start_sim()
    alice = make_account(ALICE)
    install_failing_trigger(db, **REFUSE_FINISH)
    settings = worker_settings(sim)
    first_log = tmp_path / "first.log"
    first = spawn_worker(settings, first_log)
    try:
        job = enqueue(alice, "order", order())
        code = first.wait(60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    text = first_log.read_text()
    assert code == EXIT_THREAD_DIED, text[-3000:]
    assert "could not be written back" in text
    assert "ended unexpectedly" in text
    left = db.execute(
        "select status, attempts, lease_owner from public.jobs where id = %s", (job,)
    ).fetchone()
    assert (left["status"], left["attempts"]) == ("running", 1)
    assert len(sim.journal()) == 1  # it was filled; only writing that back failed

    drop_failing_trigger(db, "public.jobs")
    second = spawn_worker(settings, tmp_path / "second.log")
    try:
        row = wait_job(db, job, timeout_s=60)
    finally:
        second_code = stop_worker(second)
    assert second_code == 0
    assert row["status"] == "succeeded", row
    assert row["attempts"] == 2  # rescued once its lease ran out
    assert row["result"]["status"] == "filled"
    assert len(sim.journal()) == 1
