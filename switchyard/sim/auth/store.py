"""The stand-in's database access: a small psycopg pool and the named queries.

Every request runs in one transaction on one pooled connection (`Store.transaction()`);
the domain modules say `tx.one("user_by_id", id=...)`. Driver errors are not translated:
an unexpected one is a 500 `unexpected_failure`, as GoTrue answers a database error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, LiteralString, cast

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

Row = dict[str, Any]

_BLOCK: Final = re.compile(r"^-- name: ([a-z_]+)\s*$", re.MULTILINE)


def load_queries(path: Path) -> dict[str, LiteralString]:
    """The `-- name: <name>` blocks of a .sql file, by name."""
    text = path.read_text(encoding="utf-8")
    parts = _BLOCK.split(text)
    found: dict[str, LiteralString] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise ValueError(f"{path.name}: query {name!r} is defined twice")
        found[name] = cast(LiteralString, body.strip())
    return found


QUERIES: Final = load_queries(Path(__file__).with_name("queries.sql"))


def jsonb(value: object) -> Jsonb:
    return Jsonb(value)


class Transaction:
    """One transaction's queries, by name."""

    def __init__(self, conn: psycopg.Connection[DictRow]) -> None:
        self._conn = conn

    def run(self, name: str, **params: Any) -> int:
        """Execute `name`; the number of rows it touched."""
        return self._conn.execute(QUERIES[name], params).rowcount

    def one(self, name: str, **params: Any) -> Row | None:
        return self._conn.execute(QUERIES[name], params).fetchone()

    def all(self, name: str, **params: Any) -> list[Row]:
        return self._conn.execute(QUERIES[name], params).fetchall()


class Store:
    """A pool of connections to the database holding GoTrue's `auth` tables."""

    def __init__(self, database_url: str, *, max_size: int = 4) -> None:
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            database_url,
            min_size=1,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": True},
            open=False,
            name="sim-auth",
        )

    def open(self, timeout_s: float = 10.0) -> None:
        self._pool.open(wait=True, timeout=timeout_s)

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._pool.connection() as conn, conn.transaction():
            yield Transaction(conn)
