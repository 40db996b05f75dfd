"""The queue in the database: claiming, leases, rescue, retry, fairness, the race guard."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
from worker_helpers import SIM_ACCOUNTS

from functions.core.db import connect
from functions.core.domain import ErrorCode, JobError
from worker.queue import JobQueue


@pytest.fixture
def queue() -> Iterator[Callable[..., JobQueue]]:
    """A factory of queues, each on its own connection (closed afterwards)."""
    opened: list[JobQueue] = []

    def make(url: str, owner: str, lease_s: float = 30.0) -> JobQueue:
        opened.append(JobQueue(connect(url, autocommit=True), owner, lease_s))
        return opened[-1]

    yield make
    for q in opened:
        q.conn.close()


def test_claim_leases_the_oldest_due_job_and_counts_the_attempt(
    db, db_url, make_account, enqueue, queue
):
    account = make_account(SIM_ACCOUNTS[0])
    first = enqueue(account, "sync")
    enqueue(account, "sync", run_after="infinity")
    q = queue(db_url, "w1")
    job = q.claim("mt5")
    assert job is not None
    assert (job.id, job.attempts, job.rescued) == (first, 1, False)
    row = db.execute(
        "select status, lease_owner, lease_expires_at > now() as leased"
        " from public.jobs where id = %s",
        (first,),
    ).fetchone()
    assert (row["status"], row["lease_owner"], row["leased"]) == ("running", "w1", True)
    assert q.claim("mt5") is None  # the other is not due, and one account runs one job


def test_two_jobs_of_one_account_never_run_at_once_even_when_claimed_concurrently(
    db, db_url, make_account, enqueue, queue
):
    account = make_account(SIM_ACCOUNTS[0])
    for _ in range(10):
        enqueue(account, "sync")
    queues = [queue(db_url, f"w{i}") for i in range(8)]
    barrier = threading.Barrier(len(queues))
    claimed: list[object] = []

    def claim(q: JobQueue) -> None:
        barrier.wait()
        claimed.append(q.claim("mt5"))

    threads = [threading.Thread(target=claim, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([c for c in claimed if c is not None]) == 1
    running = db.execute(
        "select count(*) as n from public.jobs where status = 'running'"
    ).fetchone()
    assert running["n"] == 1


def test_the_schema_refuses_a_second_running_job_of_an_account(db, make_account, enqueue):
    account = make_account(SIM_ACCOUNTS[0])
    a, b = enqueue(account, "sync"), enqueue(account, "sync")
    db.execute(
        "update public.jobs set status = 'running', lease_owner = 'x',"
        " lease_expires_at = now() + interval '1 minute' where id = %s",
        (a,),
    )
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(
            "update public.jobs set status = 'running', lease_owner = 'y',"
            " lease_expires_at = now() + interval '1 minute' where id = %s",
            (b,),
        )


def test_a_job_whose_lease_expired_is_rescued_first_and_marked_so(
    db, db_url, make_account, enqueue, queue
):
    alice, bob = make_account(SIM_ACCOUNTS[0]), make_account(SIM_ACCOUNTS[1])
    crashed = enqueue(alice, "sync")
    enqueue(bob, "sync")
    dead = queue(db_url, "dead-worker", lease_s=30)
    assert dead.claim("mt5") is not None
    db.execute(
        "update public.jobs set lease_expires_at = now() - interval '1 second' where id = %s",
        (crashed,),
    )
    job = queue(db_url, "rescuer").claim("mt5")
    assert job is not None
    assert (job.id, job.rescued, job.attempts) == (crashed, True, 2)
    assert dead.complete(crashed, {}) is False  # the dead worker cannot finish it any more


def test_retry_requeues_with_a_delay_and_fail_records_the_reason(
    db, db_url, make_account, enqueue, queue
):
    account = make_account(SIM_ACCOUNTS[0])
    job_id = enqueue(account, "sync")
    q = queue(db_url, "w1")
    assert q.claim("mt5") is not None
    error = JobError(code=ErrorCode.VENUE_UNAVAILABLE, message="terminal down")
    assert q.retry(job_id, error, delay_s=60)
    row = db.execute(
        "select status, error, run_after > now() + interval '50 seconds' as later"
        " from public.jobs where id = %s",
        (job_id,),
    ).fetchone()
    assert (row["status"], row["later"]) == ("queued", True)
    assert row["error"]["message"] == "terminal down"
    db.execute("update public.jobs set run_after = now() where id = %s", (job_id,))
    assert q.claim("mt5") is not None
    assert q.fail(job_id, error)
    row = db.execute(
        "select status, finished_at from public.jobs where id = %s", (job_id,)
    ).fetchone()
    assert row["status"] == "failed"
    assert row["finished_at"] is not None


def test_a_lane_prefers_the_logged_in_account_until_another_job_waited_too_long(
    db, db_url, make_account, enqueue, queue
):
    alice, bob = make_account(SIM_ACCOUNTS[0]), make_account(SIM_ACCOUNTS[1])
    bobs = enqueue(bob, "sync", run_after="now()")
    alices = enqueue(alice, "sync")
    q = queue(db_url, "w1")
    preferred = q.claim("mt5", prefer_account=alice.id, fair_wait_s=60)
    assert preferred is not None
    assert preferred.id == alices  # bob's is older, but alice is logged in
    db.execute(
        "update public.jobs set status = 'succeeded', finished_at = now(),"
        " lease_owner = null, lease_expires_at = null where id = %s",
        (alices,),
    )
    enqueue(alice, "sync")
    db.execute(
        "update public.jobs set run_after = now() - interval '5 seconds' where id = %s", (bobs,)
    )
    fair = q.claim("mt5", prefer_account=alice.id, fair_wait_s=2)
    assert fair is not None
    assert fair.id == bobs  # waited past the bound: no more preference


def test_jobs_of_exchange_accounts_go_to_the_other_lane(db_url, make_account, enqueue, queue):
    exchange = make_account(SIM_ACCOUNTS[0], kind="exchange", status="pending")
    job_id = enqueue(exchange, "verify")
    q = queue(db_url, "w1")
    assert q.claim("mt5") is None
    job = q.claim("other")
    assert job is not None
    assert job.id == job_id


def test_claim_refuses_an_unknown_lane(db_url, queue):
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        queue(db_url, "w1").claim("ftx")  # type: ignore[arg-type]
