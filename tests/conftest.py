"""Test fixtures: a real Postgres, a template database built once, a fresh copy per test.

The server is DATABASE_URL's when set, else the embedded one (in `.switchyard/test`).
The template is named after a hash of the compatibility SQL and the migrations, so a
changed schema builds a new one and an unchanged one is reused across runs.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from switchyard.db import Connection, connect
from switchyard.embedded import embedded_url
from switchyard.migrate import migrate
from switchyard.paths import migrations_dir, sql_dir
from switchyard.settings import Settings, functions_url_from
from switchyard.tokens import ensure_user, mint_token
from switchyard.vault import KeyRing, Vault, generate_key
from tests.databases import Databases
from tests.helpers import REPO


def with_database(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def _schema_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted([*(sql_dir() / "compat").glob("*.sql"), *migrations_dir().glob("*.sql")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="session")
def admin_url() -> str:
    """A superuser connection string to the test server's maintenance database."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    return embedded_url(REPO / ".switchyard" / "test", database="postgres")


@pytest.fixture(scope="session")
def template_db(admin_url: str) -> str:
    name = f"switchyard_tpl_{_schema_hash()}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext('switchyard.test-template'))")
        try:
            row = conn.execute(
                "select datistemplate from pg_database where datname = %s", (name,)
            ).fetchone()
            if row is None or not row["datistemplate"]:
                if row is not None:
                    conn.execute(
                        sql.SQL("drop database {} with (force)").format(sql.Identifier(name))
                    )
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
                with connect(with_database(admin_url, name), autocommit=True) as tpl:
                    migrate(tpl)
                conn.execute(
                    sql.SQL("alter database {} is_template true").format(sql.Identifier(name))
                )
        finally:
            conn.execute("select pg_advisory_unlock(hashtext('switchyard.test-template'))")
    return name


@pytest.fixture(scope="session")
def databases(admin_url: str, template_db: str) -> Iterator[Databases]:
    """Copies of the template made ahead and dropped behind, in a background thread."""
    pool = Databases(admin_url, template_db)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def db_url(admin_url: str, databases: Databases) -> Iterator[str]:
    """A fresh database, copied from the template, dropped after the test."""
    name = databases.take()
    try:
        yield with_database(admin_url, name)
    finally:
        databases.give_back(name)


@pytest.fixture
def db(db_url: str) -> Iterator[Connection]:
    """A service (superuser) connection to the per-test database, autocommit."""
    with connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def functions_db_url(db_url: str) -> str:
    """The per-test database as the functions see it: as `switchyard_functions`."""
    return functions_url_from(db_url)


@pytest.fixture
def encryption_keys() -> str:
    return generate_key()


@pytest.fixture
def vault(encryption_keys: str) -> Vault:
    return Vault(KeyRing.parse(encryption_keys))


@pytest.fixture
def settings(tmp_path: Path, db_url: str, encryption_keys: str) -> Settings:
    return Settings.model_validate(
        {
            "DATABASE_URL": db_url,
            "SWITCHYARD_DATA_DIR": tmp_path / "data",
            "SWITCHYARD_ENCRYPTION_KEYS": encryption_keys,
            "SUPABASE_JWT_SECRET": "test-secret-" + "x" * 40,
        }
    )


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    token: str

    @property
    def claims(self) -> dict[str, Any]:
        return {"sub": str(self.id), "role": "authenticated", "email": self.email}


@pytest.fixture
def make_user(db: Connection, settings: Settings) -> Callable[[str], User]:
    """A factory: make_user("alice@example.com") → a local auth.users row and a token."""

    def make(email: str) -> User:
        user_id = ensure_user(db, email)
        return User(id=user_id, email=email, token=mint_token(settings, user_id, email))

    return make
