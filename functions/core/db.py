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

from functions.core.errors import DatabaseError
from functions.core.queries import queries

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


def connect(url: str, *, autocommit: bool = False, application: str = "switchyard") -> Connection:
    """A service connection with dict rows."""
    with wrap_exceptions():
        return psycopg.connect(
            url, autocommit=autocommit, row_factory=dict_row, application_name=application
        )


def _role_params(
    role: ApiRole, claims: Mapping[str, Any] | None, headers: Mapping[str, str] | None
) -> dict[str, str]:
    return {
        "role": role,
        "claims": json.dumps(dict(claims)) if claims is not None else "",
        "headers": json.dumps({k.lower(): v for k, v in (headers or {}).items()}),
    }


@contextmanager
def as_role(
    conn: Connection,
    role: ApiRole,
    claims: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[psycopg.Cursor[DictRow]]:
    """One transaction in `role` with `request.jwt.claims` (and headers) set.

    The connection must be in autocommit mode, so that this block *is* the transaction
    (in psycopg a `transaction()` inside an implicit one is only a savepoint).
    """
    if not conn.autocommit:
        raise DatabaseError("as_role needs an autocommit connection")
    with wrap_exceptions(), conn.transaction(), conn.cursor() as cur:
        cur.execute(queries["become_role"], _role_params(role, claims, headers))
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
            await cur.execute(queries["become_role"], _role_params(role, claims, headers))
            yield cur
