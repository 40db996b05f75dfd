"""`switchyard db migrate`: Supabase-style bookkeeping, idempotence, all-or-nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest
from psycopg import sql

from switchyard.db import connect
from switchyard.errors import MigrationError
from switchyard.migrate import apply_compat, discover, migrate, status
from switchyard.paths import migrations_dir
from tests.conftest import with_database


def catalog(db) -> list[tuple]:
    """What a migration can change: columns, policies, functions, grants, indexes."""
    return db.execute(
        """select 'col', table_schema || '.' || table_name || '.' || column_name || ':' || data_type
             from information_schema.columns where table_schema in ('public', 'private', 'auth')
           union all
           select 'pol', schemaname || '.' || tablename || '.' || policyname || ':' || coalesce(qual, '')
             from pg_policies
           union all
           select 'fn', n.nspname || '.' || p.proname || ':' || md5(p.prosrc)
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname in ('public', 'private', 'auth')
           union all
           select 'grant', grantee || ':' || table_schema || '.' || table_name || ':' || privilege_type
             from information_schema.role_table_grants where table_schema in ('public', 'private')
           union all
           select 'idx', schemaname || '.' || indexname from pg_indexes where schemaname in ('public', 'private')
           order by 1, 2"""
    ).fetchall()


def test_migrating_again_applies_nothing_and_changes_nothing(db):
    before = catalog(db)
    assert migrate(db) == []
    assert catalog(db) == before
    assert all(entry.applied for entry in status(db))


def test_applied_migrations_are_recorded_as_the_supabase_cli_records_them(db):
    rows = db.execute(
        "select version, name, statements from supabase_migrations.schema_migrations order by version"
    ).fetchall()
    on_disk = discover()
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in on_disk]
    assert rows[0]["statements"] == [on_disk[0].read()]


def test_a_failing_migration_leaves_nothing_behind(db, tmp_path):
    for migration in discover():
        shutil.copy(migration.path, tmp_path / migration.path.name)
    (tmp_path / "20991231000000_broken.sql").write_text(
        "create table public.half_done (id int);\nselect 1 / 0;\n"
    )
    with pytest.raises(
        MigrationError, match=r"20991231000000_broken\.sql failed: division by zero"
    ):
        migrate(db, tmp_path)
    assert db.execute("select to_regclass('public.half_done') as t").fetchone()["t"] is None
    pending = [e.migration.name for e in status(db, tmp_path) if not e.applied]
    assert pending == ["broken"]


def test_a_misnamed_migration_file_is_refused(tmp_path):
    (tmp_path / "add_things.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match=r"add_things\.sql: migrations are named"):
        discover(tmp_path)


def test_compatibility_sql_is_skipped_on_a_real_supabase_database(db):
    with db.transaction(force_rollback=True):
        db.execute("create role supabase_admin")  # what marks a Supabase database
        db.execute("drop function auth.email()")
        assert apply_compat(db) is False
        assert db.execute("select to_regprocedure('auth.email()') as f").fetchone()["f"] is None


def test_the_migrations_directory_holds_only_supabase_named_files():
    names = sorted(p.name for p in migrations_dir().iterdir())
    assert names == [f"{m.version}_{m.name}.sql" for m in discover()]


def test_db_migrate_and_status_commands_on_a_fresh_database(admin_url, tmp_path):
    name = f"switchyard_cli_{uuid.uuid4().hex[:10]}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        env = os.environ | {
            "DATABASE_URL": with_database(admin_url, name),
            "SWITCHYARD_DATA_DIR": str(tmp_path),
        }

        def run(*args: str) -> str:
            command = [sys.executable, "-m", "switchyard", "db", *args]
            kwargs = {"env": env, "capture_output": True, "text": True, "timeout": 120}
            return subprocess.run(command, check=True, **kwargs).stdout  # type: ignore[call-overload,no-any-return]

        assert f"0 applied, {len(discover())} pending" in run("status")
        assert f"{len(discover())} migration(s) applied" in run("migrate")
        assert "0 migration(s) applied" in run("migrate")
        assert f"{len(discover())} applied, 0 pending" in run("status")
    finally:
        with connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def test_the_watched_tables_join_supabase_realtime_when_the_publication_exists(admin_url):
    name = f"switchyard_rt_{uuid.uuid4().hex[:10]}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        with connect(with_database(admin_url, name), autocommit=True) as conn:
            conn.execute("create publication supabase_realtime")  # as Supabase has it
            migrate(conn)
            rows = conn.execute(
                "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
            ).fetchall()
        assert {r["tablename"] for r in rows} == {
            "accounts", "jobs", "orders", "positions", "balance_snapshots",
        }  # fmt: skip
    finally:
        with connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def test_plain_postgres_gets_the_publication_and_its_members_once(db):
    """Without Supabase (the template here), the migrations create supabase_realtime with
    the watched tables; the membership block is idempotent when run again."""
    rows = db.execute(
        "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
    ).fetchall()
    watched = {"accounts", "jobs", "orders", "positions", "balance_snapshots"}
    assert {r["tablename"] for r in rows} == watched
    block = (migrations_dir() / "20261203120000_events.sql").read_text()
    db.execute(block[block.index("do $$\ndeclare\n    watched text;") :])  # again: nothing new
    again = db.execute(
        "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
    ).fetchall()
    assert sorted(r["tablename"] for r in again) == sorted(watched)
