"""Shared by the worker benchmarks: a scratch database, users and MT5 accounts, a sim."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from switchyard.db import Connection, connect
from switchyard.embedded import embedded_url
from switchyard.migrate import migrate
from switchyard.tokens import ensure_user
from switchyard.vault import KeyRing, Vault, generate_key

REPO = Path(__file__).resolve().parents[1]


def _with_db(url: str, name: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


@contextmanager
def scratch_database() -> Iterator[str]:
    """A migrated database of its own on DATABASE_URL's server (or the embedded one)."""
    admin = os.environ.get("DATABASE_URL") or embedded_url(
        REPO / ".switchyard" / "bench", database="postgres"
    )
    name = f"switchyard_bench_{uuid.uuid4().hex[:8]}"
    with connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_db(admin, name)
    try:
        with connect(url, autocommit=True) as conn:
            migrate(conn)
        yield url
    finally:
        with connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def new_vault() -> tuple[str, Vault]:
    keys = generate_key()
    return keys, Vault(KeyRing.parse(keys))


def add_mt5_account(
    conn: Connection, vault: Vault, login: int, password: str, server: str
) -> tuple[uuid.UUID, uuid.UUID]:
    """(user id, account id) of a verified MT5 account with sealed credentials."""
    user_id = ensure_user(conn, f"bench{login}-{uuid.uuid4().hex[:6]}@example.com")
    row = conn.execute(
        "insert into public.accounts (user_id, kind, venue, name, login, server, environment,"
        " status, next_sync_at, next_verify_at) values (%s, 'mt5', 'mt5', 'bench', %s, %s,"
        " 'demo', 'verified', 'infinity', 'infinity') returning id",
        (user_id, str(login), server),
    ).fetchone()
    assert row is not None
    sealed = vault.seal(row["id"], {"password": password})
    conn.execute(
        "insert into private.account_secrets (account_id, ciphertext, key_id) values (%s, %s, %s)",
        (row["id"], sealed.ciphertext, sealed.key_id),
    )
    return user_id, row["id"]


@contextmanager
def count_logins() -> Iterator[list[int]]:
    """Count the worker's terminal logins (every Bridge.login call) inside the block."""
    from worker.venues.mt5.bridge import Bridge

    count = [0]
    original = Bridge.login

    def login(self: Bridge, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return original(self, *args, **kwargs)

    Bridge.login = login  # type: ignore[method-assign]
    try:
        yield count
    finally:
        Bridge.login = original  # type: ignore[method-assign]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_functions(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`switchyard functions` in its own process with `env` on top of ours; (process, base
    URL) once /healthz answers."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "switchyard", "functions", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.05)
    server.terminate()
    raise SystemExit("the functions did not start")
