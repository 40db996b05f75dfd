"""A request's database work: transactions as the caller, under row-level security.

Each transaction runs on a pooled connection of the functions' login role
(`switchyard_functions`: it can become `anon` or `authenticated`, nothing else) and
switches into `authenticated` with the request's claims, in pipeline mode. The
rate-limit charge rides in the request's first transaction, in the same statement as the
switch (private.charge_request in its FROM runs as the login role before the select list
switches; only that role may charge, for the user id of the verified token), and the
request's own statements travel behind it unawaited: set-up and query in one round trip,
as PostgREST does it. A savepoint keeps the charge counted when the request itself then
fails. The counters are unlogged, so a read request's commit waits for no WAL flush.

The headers given to the database are the client's address (as functions/api/clientaddr.py
resolved it from the trusted proxies) and user agent: the audit triggers record them.

A refusal of the database becomes its outcome here, by the `SQLSTATES` table of
functions/api/statuses.py; an unreachable database becomes `DatabaseError`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Final

import psycopg
from psycopg import AsyncCursor, AsyncPipeline
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from functions.api.auth import Principal
from functions.api.problems import Problem
from functions.api.ratelimit import Bucket, RateLimits
from functions.api.ratelimit import refusal as rate_limit_refusal
from functions.api.statuses import refusal_of
from switchyard.db import AsyncConnection, become_role_async
from switchyard.errors import DatabaseError

Cursor = AsyncCursor[DictRow]
log = logging.getLogger(__name__)


def refused(exc: psycopg.Error) -> Problem | None:
    """The Problem of a database refusal we know (functions/api/statuses.py `SQLSTATES`);
    None for anything else. Only our own functions' messages are shown."""
    refusal = refusal_of(exc.sqlstate, exc.diag.constraint_name)
    if refusal is None:
        return None
    detail = refusal.detail
    if refusal.ours and exc.diag.message_primary:
        detail = exc.diag.message_primary
    return Problem(refusal.outcome, detail)


def _translated(exc: BaseException) -> BaseException:
    """A database refusal we know becomes its Problem; everything else stays itself.

    A refused rate-limit charge (SW429) is a 429 with its Retry-After.

    Known SQLSTATEs first: some of them are OperationalErrors to psycopg (28000, a token
    whose user is gone, is 401; 40001 and 40P01 are "retry"), not an unreachable database.
    """
    limited = rate_limit_refusal(exc)
    if limited is not None:
        limited.__cause__ = exc
        return limited
    if isinstance(exc, psycopg.Error):
        problem = refused(exc)
        if problem is not None:
            problem.__cause__ = exc
            return problem
    if isinstance(exc, psycopg.OperationalError):
        translated = DatabaseError(f"the database could not be reached: {exc}")
        translated.__cause__ = exc
        return translated
    return exc


class UserSession:
    """The caller's way into the database for one request."""

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection],
        principal: Principal,
        headers: Mapping[str, str],
        limits: RateLimits,
        buckets: tuple[Bucket, ...],
    ) -> None:
        self._pool = pool
        self.principal = principal
        self._headers = dict(headers)
        self._limits = limits
        self._buckets = buckets
        self._charged = False

    def also_charge(self, bucket: Bucket) -> None:
        """Charge `bucket` too (decided from the body); only before the first transaction."""
        assert not self._charged, "the rate limit is charged by the first transaction"
        if bucket not in self._buckets:
            self._buckets = (*self._buckets, bucket)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Cursor]:
        """One transaction as the caller; the first one also charges the rate limit.

        BEGIN, the charge-and-switch statement (the first transaction) or the switch (a
        later one), a SAVEPOINT and the request's own statements go out in one pipeline,
        and the answers are read at the request's first fetch: one round trip, then one
        for RELEASE and COMMIT. The transaction statements are ours, not psycopg's
        `transaction()`, which in pipeline mode syncs at the edge of every block (five
        round trips more per request). A refused charge surfaces at the first read
        (SQLSTATE SW429, then the 429) and rolls everything back; the savepoint keeps the
        charge counted when the request itself fails.
        """
        failure: Exception | None = None
        try:
            async with (
                self._pool.connection() as conn,
                conn.pipeline() as pipeline,
                conn.cursor() as cur,
            ):
                await cur.execute(BEGIN)  # the pool's connections are autocommit
                first = not self._charged
                if first:
                    self._charged = True
                    await self._limits.charge_and_become(
                        cur, self.principal, self._buckets, self._headers
                    )
                    await cur.execute(SAVEPOINT)
                else:
                    await become_role_async(
                        cur, "authenticated", self.principal.claims, self._headers
                    )
                try:
                    yield cur
                # Kept, not swallowed: re-raised below once the charge is committed (or,
                # when the charge itself was refused, rolled back with it).
                except Exception as exc:  # noqa: BLE001
                    failure = exc
                    await _end_failed(conn, pipeline, cur, keep_charge=first and _charged(exc))
                except BaseException:  # a cancellation: nothing of it is kept
                    await _end_failed(conn, pipeline, cur, keep_charge=False)
                    raise
                else:
                    if first:
                        await cur.execute(RELEASE)
                    await cur.execute(COMMIT)  # its answer is read as the pipeline ends
        # Every driver error, an unreachable database (PoolTimeout) included, is translated
        # here: wrap_exceptions() would turn a known refusal such as 28000 into a 503.
        except psycopg.Error as exc:
            translated = _translated(exc)
            if translated is exc:
                raise
            raise translated from exc
        if failure is not None:
            raise _translated(failure)


@asynccontextmanager
async def login_role_transaction(
    pool: AsyncConnectionPool[AsyncConnection],
) -> AsyncIterator[Cursor]:
    """One transaction as the functions' login role (no user: the signal webhook), in one
    pipeline like a user's: BEGIN and the statements answered at the first fetch, COMMIT
    as the pipeline ends, everything rolled back when the block fails."""
    async with pool.connection() as conn, conn.pipeline() as pipeline, conn.cursor() as cur:
        await cur.execute(BEGIN)  # the pool's connections are autocommit
        try:
            yield cur
        except BaseException:
            await _end_failed(conn, pipeline, cur, keep_charge=False)
            raise
        await cur.execute(COMMIT)  # its answer is read as the pipeline ends


BEGIN: Final = "begin"
SAVEPOINT: Final = "savepoint request"
RELEASE: Final = "release savepoint request"
COMMIT: Final = "commit"


def _charged(exc: BaseException) -> bool:
    """Whether the request failed after its charge was counted: anything but the charge's
    own refusal (SW429) or a user that no longer exists (28000, the charge's other
    refusal) comes from the request's statements or its code, behind the savepoint."""
    if rate_limit_refusal(exc) is not None:
        return False
    return not (isinstance(exc, psycopg.Error) and exc.sqlstate == "28000")


async def _end_failed(
    conn: AsyncConnection, pipeline: AsyncPipeline, cur: Cursor, *, keep_charge: bool
) -> None:
    """End a transaction whose request failed: the charge committed when `keep_charge`,
    everything rolled back otherwise. Errors of statements the failure left unread (the
    pipeline is aborted after the first one) are the same failure: not raised again."""
    try:
        await pipeline.sync()
    except psycopg.Error as unread:
        log.debug("a failed request's pipeline ended with %s", unread.sqlstate)
    if conn.pgconn.transaction_status == TransactionStatus.IDLE:
        return  # the connection already ended it (e.g. it was lost)
    if keep_charge:
        await cur.execute("rollback to savepoint request")
        await cur.execute(COMMIT)
    else:
        await cur.execute("rollback")
    await pipeline.sync()
