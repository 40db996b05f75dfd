"""A request's transaction on the wire: set-up and query in one round trip, the commit in
one more, and a pooled connection left idle whatever the request did."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from functions.api.auth import Principal
from functions.api.problems import Problem
from functions.api.ratelimit import Bucket, RateLimited, RateLimits
from functions.api.transactions import UserSession
from switchyard.db import AsyncConnection

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pool(functions_db_url: str) -> AsyncIterator[AsyncConnectionPool[AsyncConnection]]:
    async with AsyncConnectionPool(
        functions_db_url,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "row_factory": dict_row},
        connection_class=AsyncConnection,
        open=False,
    ) as opened:
        yield opened


def session(pool: Any, user: Any, limit: int = 100) -> UserSession:
    principal = Principal(user_id=user.id, claims=user.claims)
    limits = RateLimits(per_window={Bucket.ALL: limit, Bucket.CREDENTIALS: limit})
    return UserSession(pool, principal, {"user-agent": "test"}, limits, (Bucket.ALL,))


async def run(mine: UserSession, statement: str) -> list[Any]:
    async with mine.transaction() as cur:
        await cur.execute(statement)
        return await cur.fetchall()


async def syncs_of(pool: Any, work: Any) -> int:
    """How many Sync messages `work` sent on the pool's one connection (libpq's trace)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace"
        with path.open("w") as trace:
            async with pool.connection() as conn:
                conn.pgconn.trace(trace.fileno())
            try:
                await work()
            finally:
                async with pool.connection() as conn:
                    conn.pgconn.untrace()
        return sum(1 for line in path.read_text().splitlines() if "\tF\t4\tSync" in line)


async def test_set_up_and_query_share_a_round_trip_and_the_commit_takes_one_more(
    pool, make_user
) -> None:
    alice = make_user("alice@example.com")
    mine = session(pool, alice)

    async def read() -> None:
        async with mine.transaction() as cur:
            await cur.execute("select auth.uid() as uid")
            assert (await cur.fetchone()) == {"uid": alice.id}

    # BEGIN, the charge and switch, the savepoint and the query go out together (their
    # answers come back on a flush); RELEASE and COMMIT then end on the one Sync.
    assert await syncs_of(pool, read) == 1
    assert await syncs_of(pool, read) == 1  # a later transaction: the switch, no charge


async def test_a_failed_request_is_counted_and_leaves_the_connection_idle(
    pool, make_user, db
) -> None:
    alice = make_user("alice@example.com")
    with pytest.raises(psycopg.errors.UndefinedTable):
        await run(session(pool, alice), "select * from public.no_such_table")
    async with pool.connection() as conn:
        assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    hits = db.execute("select hits from private.rate_limit_counters where bucket = 'all'")
    assert hits.fetchone() == {"hits": 1}  # the savepoint kept the charge


async def test_a_refused_charge_runs_nothing_counts_nothing_and_leaves_the_connection_idle(
    pool, make_user, db
) -> None:
    alice = make_user("alice@example.com")
    async with session(pool, alice, limit=1).transaction() as cur:
        await cur.execute("select 1 as one")
        assert (await cur.fetchone()) == {"one": 1}
    with pytest.raises(RateLimited):
        await run(
            session(pool, alice, limit=1),
            "insert into public.api_tokens (name) values ('never') returning id",
        )
    async with pool.connection() as conn:
        assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    hits = db.execute("select hits from private.rate_limit_counters where bucket = 'all'")
    assert hits.fetchone() == {"hits": 1}
    assert db.execute("select count(*) as n from public.api_tokens").fetchone() == {"n": 0}


async def test_a_refusal_of_ours_becomes_its_problem_and_the_next_request_works(
    pool, make_user
) -> None:
    alice = make_user("alice@example.com")
    # an account of another user's id: RLS's with check refuses it (42501)
    with pytest.raises(Problem):
        await run(
            session(pool, alice),
            "insert into public.accounts (user_id, kind, venue, name, login, server,"
            " environment) values (gen_random_uuid(), 'mt5', 'mt5', 'x', '1', 'S', 'demo')"
            " returning id",
        )
    async with session(pool, alice).transaction() as cur:
        await cur.execute("select auth.uid() as uid")
        assert (await cur.fetchone()) == {"uid": alice.id}
