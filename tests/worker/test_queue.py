"""The queue in the database: claiming, leases, rescue, retry, fairness, the race guard."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest

from switchyard.db import connect
from switchyard.domain import EXCHANGE_VENUES, ErrorCode, JobError, Venue
from tests.worker.helpers import SIM_ACCOUNTS
from worker.queue import JobQueue

MT5 = {Venue.MT5}


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
    job = q.claim(MT5)
    assert job is not None
    assert (job.id, job.attempts, job.rescued) == (first, 1, False)
    row = db.execute(
        "select status, lease_owner, lease_expires_at > now() as leased"
        " from public.jobs where id = %s",
        (first,),
    ).fetchone()
    assert (row["status"], row["lease_owner"], row["leased"]) == ("running", "w1", True)
    assert q.claim(MT5) is None  # the other is not due, and one account runs one job


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
        claimed.append(q.claim(MT5))

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
    assert dead.claim(MT5) is not None
    db.execute(
        "update public.jobs set lease_expires_at = now() - interval '1 second' where id = %s",
        (crashed,),
    )
    job = queue(db_url, "rescuer").claim(MT5)
    assert job is not None
    assert (job.id, job.rescued, job.attempts) == (crashed, True, 2)
    assert dead.complete(crashed, {}) is False  # the dead worker cannot finish it any more


def test_retry_requeues_with_a_delay_and_fail_records_the_reason(
    db, db_url, make_account, enqueue, queue
):
    account = make_account(SIM_ACCOUNTS[0])
    job_id = enqueue(account, "sync")
    q = queue(db_url, "w1")
    assert q.claim(MT5) is not None
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
    assert q.claim(MT5) is not None
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
    preferred = q.claim(MT5, prefer_account=alice.id, fair_wait_s=60)
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
    fair = q.claim(MT5, prefer_account=alice.id, fair_wait_s=2)
    assert fair is not None
    assert fair.id == bobs  # waited past the bound: no more preference


def test_jobs_of_exchange_accounts_go_to_the_lanes_of_the_exchanges(
    db_url, make_account, enqueue, queue
):
    exchange = make_account(SIM_ACCOUNTS[0], kind="exchange", status="pending")
    job_id = enqueue(exchange, "verify")
    q = queue(db_url, "w1")
    assert q.claim(MT5) is None
    job = q.claim(EXCHANGE_VENUES)
    assert job is not None
    assert job.id == job_id


def test_claim_refuses_an_unknown_venue(db_url, queue):
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        queue(db_url, "w1").claim(["ftx"])


def test_a_worker_that_lost_a_job_can_no_longer_end_it_in_any_way(
    db, db_url, make_account, enqueue, queue
):
    account = make_account(SIM_ACCOUNTS[0])
    job_id = enqueue(account, "sync")
    first = queue(db_url, "first")
    assert first.claim(MT5) is not None
    db.execute("update public.jobs set lease_owner = 'second' where id = %s", (job_id,))
    error = JobError(code=ErrorCode.VENUE_UNAVAILABLE, message="not mine any more")
    assert first.complete(job_id, {}) is False
    assert first.fail(job_id, error) is False
    assert first.retry(job_id, error, delay_s=0) is False
    assert first.cancel(job_id, error) is False
    row = db.execute(
        "select status, lease_owner, error from public.jobs where id = %s", (job_id,)
    ).fetchone()
    assert (row["status"], row["lease_owner"], row["error"]) == ("running", "second", None)


def test_a_job_takes_its_accounts_venue_whatever_the_insert_says(db, make_account, enqueue):
    exchange = make_account(SIM_ACCOUNTS[0], kind="exchange", status="pending")
    job_id = enqueue(exchange, "verify", venue="mt5")
    row = db.execute("select venue from public.jobs where id = %s", (job_id,)).fetchone()
    assert row["venue"] == "binance"


def test_a_job_with_neither_an_account_nor_a_venue_is_refused(db, make_account):
    account = make_account(SIM_ACCOUNTS[0])
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "insert into public.jobs (user_id, kind) values (%s, 'sync')", (account.user_id,)
        )


def test_the_job_of_a_deleted_account_keeps_its_venue_and_waits_for_that_venues_lane(
    db, db_url, make_account, enqueue, queue
):
    account = make_account(SIM_ACCOUNTS[0])
    job_id = enqueue(account, "sync")
    q = queue(db_url, "w1")
    assert q.claim(MT5) is not None
    db.execute("delete from public.accounts where id = %s", (account.id,))  # while it runs
    assert q.retry(job_id, JobError(code=ErrorCode.VENUE_UNAVAILABLE, message="x"), delay_s=0)
    assert queue(db_url, "w2").claim(EXCHANGE_VENUES) is None
    job = q.claim(MT5)
    assert job is not None
    assert (job.id, job.account_id) == (job_id, None)


def test_a_lane_of_several_venues_takes_the_most_urgent_job_of_any_of_them(
    db, db_url, make_account, enqueue, queue
):
    binance = make_account(SIM_ACCOUNTS[0], kind="exchange")
    bybit = make_account(SIM_ACCOUNTS[1], kind="exchange")
    db.execute("update public.accounts set venue = 'bybit' where id = %s", (bybit.id,))
    older = enqueue(binance, "sync")
    urgent = enqueue(bybit, "sync", priority=5)
    q = queue(db_url, "w1")
    first, second = q.claim(EXCHANGE_VENUES), q.claim(EXCHANGE_VENUES)
    assert first is not None
    assert second is not None
    assert (first.id, second.id) == (urgent, older)
    assert q.claim(MT5) is None


def _slow_job_updates(db, seconds: float) -> None:
    """Every update of a job row takes `seconds` (inside the claimer's transaction, so
    that concurrent claims overlap while the first one holds its row)."""
    db.execute(
        f"""create function public.test_slow_update() returns trigger language plpgsql as $$
            begin perform pg_sleep({seconds}); return new; end $$"""
    )
    db.execute(
        "create trigger test_slow_update before update on public.jobs"
        " for each row execute function public.test_slow_update()"
    )


def _claim_at_once(queues: list[JobQueue]) -> list[object]:
    barrier = threading.Barrier(len(queues))
    claimed: list[object] = []

    def claim(q: JobQueue) -> None:
        barrier.wait()
        claimed.append(q.claim(MT5))

    threads = [threading.Thread(target=claim, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [c for c in claimed if c is not None]


def test_an_expired_lease_is_rescued_by_exactly_one_of_many_claimers(
    db, db_url, make_account, enqueue, queue
):
    account = make_account(SIM_ACCOUNTS[0])
    crashed = enqueue(account, "sync")
    assert queue(db_url, "dead-worker").claim(MT5) is not None
    db.execute(
        "update public.jobs set lease_expires_at = now() - interval '1 second' where id = %s",
        (crashed,),
    )
    _slow_job_updates(db, 0.5)
    rescued = _claim_at_once([queue(db_url, f"rescuer-{i}") for i in range(4)])
    assert [job.id for job in rescued] == [crashed]  # type: ignore[attr-defined]
    row = db.execute("select attempts from public.jobs where id = %s", (crashed,)).fetchone()
    assert row["attempts"] == 2


def test_a_queued_job_is_claimed_by_exactly_one_of_many_claimers(
    db, db_url, make_account, enqueue, queue
):
    # A job whose account was deleted while it ran, queued again: neither the account's
    # claim lock nor the one-running-job-per-account index stands in for the row lock.
    account = make_account(SIM_ACCOUNTS[0])
    job = enqueue(account, "sync")
    first = queue(db_url, "first")
    assert first.claim(MT5) is not None
    db.execute("delete from public.accounts where id = %s", (account.id,))
    assert first.retry(job, JobError(code=ErrorCode.VENUE_UNAVAILABLE, message="x"), delay_s=0)
    _slow_job_updates(db, 0.5)
    claimed = _claim_at_once([queue(db_url, f"w{i}") for i in range(4)])
    assert [c.id for c in claimed] == [job]  # type: ignore[attr-defined]
    row = db.execute("select attempts from public.jobs where id = %s", (job,)).fetchone()
    assert row["attempts"] == 2
