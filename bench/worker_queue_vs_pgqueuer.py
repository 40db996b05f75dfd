"""(c) Claim + complete throughput: switchyard's queue against PgQueuer, same database.

Both drain N jobs with the same number of consumers, one connection each, one job per
claim. Ours claims through `private.claim_job` (lease, SKIP LOCKED, one running job
per account) and completes with the lease-checked update; PgQueuer dequeues and logs.

    uv run --group bench python bench/worker_queue_vs_pgqueuer.py
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from datetime import timedelta

import psycopg
from pgqueuer.adapters.drivers.psycopg import PsycopgDriver
from pgqueuer.models import Job
from pgqueuer.queries import EntrypointExecutionParameter, Queries
from pgqueuer.types import QueueManagerId
from worker_common import scratch_database

from switchyard.db import connect
from switchyard.domain import Venue
from worker.queue import JobQueue

JOBS = 4000
ACCOUNTS = 400
CONSUMERS = int(os.environ.get("BENCH_CONSUMERS", "4"))


def ours(url: str) -> float:
    with connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email) select gen_random_uuid(),"
            " 'authenticated', 'authenticated', 'b' || g || '@ex.com'"
            " from generate_series(1, %s) g",
            (ACCOUNTS,),
        )
        conn.execute(
            "insert into public.accounts (user_id, kind, venue, name, login, server, environment,"
            " status) select id, 'mt5', 'mt5', 'b', (row_number() over ())::text, 'S', 'demo',"
            " 'verified' from auth.users"
        )
        conn.execute(
            "insert into public.jobs (user_id, account_id, kind) select a.user_id, a.id, 'sync'"
            " from public.accounts a, generate_series(1, %s)",
            (JOBS // ACCOUNTS,),
        )
        conn.execute("analyze")  # as autovacuum would have, on a queue in service
    done = [0] * CONSUMERS
    start = threading.Barrier(CONSUMERS + 1)

    def consume(index: int) -> None:
        with connect(url, autocommit=True) as conn:
            queue = JobQueue(conn, f"bench-{index}", 30.0)
            start.wait()
            while (job := queue.claim({Venue.MT5})) is not None:
                queue.complete(job.id, {})
                done[index] += 1

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(CONSUMERS)]
    for t in threads:
        t.start()
    start.wait()
    began = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    assert sum(done) == JOBS, done
    return JOBS / elapsed


async def pgqueuer(url: str) -> float:
    setup = await psycopg.AsyncConnection.connect(url, autocommit=True)
    queries = Queries(PsycopgDriver(setup))
    await queries.install()
    await queries.enqueue(["bench"] * JOBS, [None] * JOBS, [0] * JOBS)
    await setup.execute("analyze")
    done = [0] * CONSUMERS
    entry = {"bench": EntrypointExecutionParameter(concurrency_limit=0)}

    async def consume(index: int) -> None:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        q = Queries(PsycopgDriver(conn))
        manager = QueueManagerId(uuid.uuid4())
        while True:
            jobs: list[Job] = await q.dequeue(1, entry, manager, None, timedelta(seconds=30))
            if not jobs:
                break
            await q.log_jobs([(job, "successful", None) for job in jobs])
            done[index] += len(jobs)
        await conn.close()

    began = time.monotonic()
    await asyncio.gather(*(consume(i) for i in range(CONSUMERS)))
    elapsed = time.monotonic() - began
    await setup.close()
    assert sum(done) == JOBS, done
    return JOBS / elapsed


def main() -> None:
    with scratch_database() as url:
        ours_rate = ours(url)
        theirs_rate = asyncio.run(pgqueuer(url))
    print(f"claim+complete, {JOBS} jobs, {CONSUMERS} consumers, one job per claim")
    print(f"  switchyard : {ours_rate:8.0f} jobs/s  ({ACCOUNTS} accounts, one running each)")
    print(f"  PgQueuer   : {theirs_rate:8.0f} jobs/s")
    print(f"  switchyard / PgQueuer: {ours_rate / theirs_rate:.2f}x")


if __name__ == "__main__":
    main()
