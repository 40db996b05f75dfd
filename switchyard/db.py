"""Database access shared by the functions and the worker.

Driver errors become `DatabaseError` here and nowhere else. `as_role` is how every
user request runs: one transaction, the API role and the JWT claims set in one round
trip (as PostgREST does), so that row-level security, not Python, decides.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import psycopg
from psycopg.rows import DictRow, dict_row

from switchyard.errors import DatabaseError
from switchyard.queries import queries

Connection = psycopg.Connection[DictRow]
AsyncConnection = psycopg.AsyncConnection[DictRow]
ApiRole = Literal["anon", "authenticated", "service_role"]


@contextmanager
def wrap_exceptions() -> Iterator[None]:
    """Turn psycopg's operational failures into DatabaseError (the one place that does)."""
    try:
        yield
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"the database could not be reached: {exc}") from exc


def connect(
    url: str,
    *,
    autocommit: bool = False,
    application: str = "switchyard",
    statement_timeout_s: float | None = None,
) -> Connection:
    """A service connection with dict rows. With `statement_timeout_s`, a statement that
    runs (or waits for a lock) longer is cancelled: the caller gets a DatabaseError, not
    a thread that hangs while its leases are renewed."""
    with wrap_exceptions():
        conn = psycopg.connect(
            url, autocommit=autocommit, row_factory=dict_row, application_name=application
        )
        if statement_timeout_s is not None:
            try:
                conn.execute(
                    "select set_config('statement_timeout', %s, false)",
                    (f"{max(1, round(statement_timeout_s * 1000))}ms",),
                )
                if not autocommit:
                    conn.commit()
            except BaseException:
                conn.close()
                raise
        return conn


#: The key of `headers` that holds the client address our code resolved and vouches for
#: (functions/api/clientaddr.py). It is not a request header: the database gets it as
#: `switchyard.client_address`, which the audit log prefers to `request.headers` (where
#: PostgREST puts whatever the client and the proxies sent).
CLIENT_ADDRESS = "switchyard.client_address"


def role_params(
    role: ApiRole, claims: Mapping[str, Any] | None, headers: Mapping[str, str] | None
) -> dict[str, str]:
    given = {k.lower(): v for k, v in (headers or {}).items()}
    address = given.pop(CLIENT_ADDRESS, "")
    return {
        "role": role,
        "claims": json.dumps(dict(claims)) if claims is not None else "",
        "headers": json.dumps(given),
        "client_address": address,
    }


@contextmanager
def as_role(
    conn: Connection,
    role: ApiRole,
    claims: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[psycopg.Cursor[DictRow]]:
    """One transaction in `role` with `request.jwt.claims` (and headers) set.

    `headers` become `request.headers`, except `CLIENT_ADDRESS`, which becomes the
    setting `switchyard.client_address`.

    The connection must be in autocommit mode, so that this block *is* the transaction
    (in psycopg a `transaction()` inside an implicit one is only a savepoint).
    """
    if not conn.autocommit:
        raise DatabaseError("as_role needs an autocommit connection")
    with wrap_exceptions(), conn.transaction(), conn.cursor() as cur:
        cur.execute(queries["become_role"], role_params(role, claims, headers))
        yield cur


@asynccontextmanager
async def as_role_async(
    conn: AsyncConnection,
    role: ApiRole,
    claims: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[psycopg.AsyncCursor[DictRow]]:
    """`as_role` for the async functions."""
    if not conn.autocommit:
        raise DatabaseError("as_role_async needs an autocommit connection")
    with wrap_exceptions():
        async with conn.transaction(), conn.cursor() as cur:
            await become_role_async(cur, role, claims, headers)
            yield cur


async def become_role_async(
    cur: psycopg.AsyncCursor[DictRow],
    role: ApiRole,
    claims: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Switch the open transaction of `cur` into `role` with the claims set, until it ends.

    For work the login role must do itself first (the rate-limit charge); everything
    else uses `as_role_async`, which opens the transaction too.
    """
    await cur.execute(queries["become_role"], role_params(role, claims, headers))
