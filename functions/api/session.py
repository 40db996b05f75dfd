"""A request's database work: transactions as the caller, under row-level security.

Each transaction runs on a pooled `authenticator` connection through
`as_role_async(conn, "authenticated", claims, headers)`, in pipeline mode so that
BEGIN, the role and claims, the rate-limit charge and the first query travel in one
round trip. The rate-limit charge rides in the request's first transaction; a
savepoint keeps it counted when the request itself then fails.

The headers given to the database are the client's address (as uvicorn resolved it
from trusted proxies) and user agent: the audit triggers record them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import psycopg
from psycopg import AsyncCursor
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from functions.api.auth import Principal
from functions.api.ratelimit import Bucket, RateLimits
from functions.api.sqlstate import problem_from
from functions.core.db import AsyncConnection, as_role_async, wrap_exceptions
from functions.core.errors import DatabaseError

Cursor = AsyncCursor[DictRow]


def _translated(exc: BaseException) -> BaseException:
    """A database refusal we know becomes its Problem; everything else stays itself."""
    if isinstance(exc, psycopg.OperationalError):
        translated = DatabaseError(f"the database could not be reached: {exc}")
        translated.__cause__ = exc
        return translated
    if isinstance(exc, psycopg.Error):
        problem = problem_from(exc)
        if problem is not None:
            problem.__cause__ = exc
            return problem
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
        """One transaction as the caller; the first one also charges the rate limit."""
        failure: BaseException | None = None
        try:
            with wrap_exceptions():
                async with self._pool.connection() as conn, conn.pipeline():
                    claims = self.principal.claims
                    async with as_role_async(conn, "authenticated", claims, self._headers) as cur:
                        if self._charged:
                            yield cur
                        else:
                            self._charged = True
                            await self._limits.charge(cur, self._buckets)
                            try:
                                async with conn.transaction():  # a savepoint
                                    yield cur
                            # Kept, not swallowed: re-raised below once the charge is committed.
                            except Exception as exc:  # noqa: BLE001
                                failure = exc
        except psycopg.Error as exc:
            translated = _translated(exc)
            if translated is exc:
                raise
            raise translated from exc
        if failure is not None:
            raise _translated(failure)
