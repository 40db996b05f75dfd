"""Applying the schema: Supabase compatibility (plain Postgres only), then migrations.

Applied migrations are recorded in `supabase_migrations.schema_migrations`, as the
Supabase CLI records them, so a database migrated here can later be managed with
`supabase db push` and the other way round. Each migration runs in its own
transaction with its record; running again applies nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from switchyard.db import Connection, wrap_exceptions
from switchyard.errors import MigrationError
from switchyard.paths import migrations_dir, sql_dir
from switchyard.queries import queries

_FILENAME = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One `supabase/migrations/<version>_<name>.sql` file."""

    version: str
    name: str
    path: Path

    def read(self) -> str:
        return self.path.read_text()


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationStatus:
    migration: Migration
    applied: bool


def discover(directory: Path | None = None) -> list[Migration]:
    """The migrations on disk, in version order; a misnamed file is an error."""
    found: list[Migration] = []
    for path in sorted((directory or migrations_dir()).glob("*.sql")):
        match = _FILENAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migrations are named <YYYYMMDDHHMMSS>_<name>.sql")
        found.append(Migration(version=match[1], name=match[2], path=path))
    return found


def is_supabase(conn: Connection) -> bool:
    """A Supabase database brings its own roles and auth schema."""
    row = conn.execute(queries["is_supabase"]).fetchone()
    return bool(row and row["is_supabase"])


def _execute_script(conn: Connection, text: str, origin: str) -> None:
    try:
        # No parameters: psycopg sends the whole file with the simple query protocol.
        conn.execute(text.encode())
    except psycopg.Error as exc:
        raise MigrationError(f"{origin} failed: {exc}") from exc


def apply_compat(conn: Connection) -> bool:
    """Make plain Postgres look like Supabase for our schema; False on Supabase itself."""
    if is_supabase(conn):
        return False
    for path in sorted((sql_dir() / "compat").glob("*.sql")):
        with conn.transaction():
            _execute_script(conn, path.read_text(), f"sql/compat/{path.name}")
    return True


def status(conn: Connection, directory: Path | None = None) -> list[MigrationStatus]:
    """Every migration on disk and whether this database has it."""
    with wrap_exceptions(), conn.transaction():
        conn.execute(queries["create_migrations_table"].encode())
        applied = {row["version"] for row in conn.execute(queries["applied_migrations"])}
    return [MigrationStatus(migration=m, applied=m.version in applied) for m in discover(directory)]


def migrate(conn: Connection, directory: Path | None = None) -> list[Migration]:
    """Apply compatibility SQL where needed, then pending migrations, in order.

    Needs an autocommit connection: each step is its own committed transaction.
    """
    if not conn.autocommit:
        raise MigrationError("migrate needs an autocommit connection")
    with wrap_exceptions():
        apply_compat(conn)
        done: list[Migration] = []
        for entry in status(conn, directory):
            if entry.applied:
                continue
            migration = entry.migration
            with conn.transaction():
                conn.execute(queries["lock_migrations"])
                already = {r["version"] for r in conn.execute(queries["applied_migrations"])}
                if migration.version in already:  # another process got there first
                    continue
                text = migration.read()
                _execute_script(conn, text, migration.path.name)
                conn.execute(
                    queries["record_migration"],
                    {"version": migration.version, "statements": [text], "name": migration.name},
                )
            done.append(migration)
        return done
