"""`switchyard dev`: the whole local stack in the foreground until Ctrl-C.

Starts (or reuses) the embedded Postgres unless DATABASE_URL is set, migrates, makes
sure a development encryption key and JWT secret exist in the data directory, then
runs as child processes: a simulated MT5 terminal (mt5linux's rpyc protocol), the HTTP
functions and the worker. What runs where is printed and written to `<data dir>/dev.json`.
If any child dies, the others are stopped and `dev` exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.core.db import connect
from functions.core.embedded import database_url
from functions.core.errors import ConfigError
from functions.core.migrate import migrate
from functions.core.settings import Settings
from functions.core.vault import KeyRing, generate_key

#: How long a child may take to come up before `dev` gives up on the whole stack.
START_TIMEOUT_S = 60.0


def dev_encryption_keys(settings: Settings) -> str:
    """The environment's ring, else a development key kept in the data directory.

    Kept, not generated per start: a key that changes on restart would make every
    stored credential unreadable. Production commands never do this.
    """
    if settings.encryption_keys is not None:
        value = settings.encryption_keys.get_secret_value()
    else:
        path = settings.data_dir / "encryption_keys"
        if not path.exists():
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(generate_key())
        value = path.read_text().strip()
    KeyRing.parse(value)  # fail now, with the variable's name, if it is malformed
    return value


def write_dev_json(data_dir: Path, facts: dict[str, Any]) -> Path:
    path = data_dir / "dev.json"
    path.write_text(json.dumps(facts, indent=2) + "\n")
    return path


@dataclass
class Stack:
    """The child processes of `dev`, stopped in reverse start order."""

    children: list[tuple[str, subprocess.Popen[Any]]] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[Any]:
        proc = subprocess.Popen(argv, env=env)  # noqa: S603 - our own modules; output to our terminal
        self.children.append((name, proc))
        return proc

    def dead(self) -> str | None:
        for name, proc in self.children:
            if proc.poll() is not None:
                return f"{name} exited with code {proc.returncode}"
        return None

    def stop(self, grace_s: float = 20.0) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for _, proc in reversed(self.children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_http(url: str, stack: Stack, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (why := stack.dead()) is not None:
            raise ConfigError(f"the local stack could not start: {why}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own http URL
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise ConfigError(f"{url} did not answer within {timeout_s:.0f} s")


def _start_simulator(settings: Settings, args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    from worker.sim.mt5.server import DEMO_ACCOUNTS, start_in_subprocess, write_accounts

    sim_dir = settings.data_dir / "sim-mt5"
    accounts = write_accounts(sim_dir / "accounts.json")
    handle = start_in_subprocess(
        accounts, sim_dir / "journal.jsonl", host="127.0.0.1", port=args.mt5_port,
        login_delay_s=args.mt5_login_delay_ms / 1000,
    )  # fmt: skip
    stack.children.append(("simulated MT5 terminal", handle.process))
    return {
        "address": f"{handle.host}:{handle.port}",
        "journal": str(sim_dir / "journal.jsonl"),
        "demo_accounts": [
            {
                "login": a["login"],
                "password": a["password"],
                "server": a["server"],
                "balance": a["balance"],
                "currency": a["currency"],
            }
            for a in DEMO_ACCOUNTS
        ],
    }


def run_dev(settings: Settings, args: argparse.Namespace) -> int:
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        applied = migrate(conn)
    keys = dev_encryption_keys(settings)
    jwt_secret = settings.jwt_secret().get_secret_value()
    stack = Stack()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        sim = _start_simulator(settings, args, stack)
        env = os.environ | {
            "DATABASE_URL": url,
            "SWITCHYARD_DATA_DIR": str(settings.data_dir.resolve()),
            "SWITCHYARD_ENCRYPTION_KEYS": keys,
            "SUPABASE_JWT_SECRET": jwt_secret,
            "SWITCHYARD_MT5_TERMINALS": sim["address"],
        }
        functions_url = f"http://{args.host}:{args.port}"
        stack.spawn(
            "functions",
            [
                sys.executable,
                "-m",
                "functions",
                "functions",
                "--host",
                args.host,
                "--port",
                str(args.port),
            ],
            env,
        )
        stack.spawn("worker", [sys.executable, "-m", "worker"], env)
        _wait_http(f"{functions_url}/healthz", stack, START_TIMEOUT_S)
        facts: dict[str, Any] = {
            "database_url": url,
            "embedded_database": settings.database_url is None,
            "migrations_applied_now": [m.version for m in applied],
            "functions_url": functions_url,
            "openapi": f"{functions_url}/docs",
            "mt5_terminals": [sim["address"]],
            "mt5_simulator": sim,
            "data_dir": str(settings.data_dir.resolve()),
            "pids": {name: proc.pid for name, proc in stack.children},
        }
        path = write_dev_json(settings.data_dir, facts)
        _print_banner(facts, path)
        while not stopping.wait(0.5):
            if (why := stack.dead()) is not None:
                print(f"switchyard dev: {why}; stopping the stack", file=sys.stderr)
                return 1
        return 0
    finally:
        stack.stop()
        print("switchyard dev stopped", flush=True)


def _print_banner(facts: dict[str, Any], path: Path) -> None:
    print("switchyard dev is running (Ctrl-C to stop)")
    print(f"  database          {facts['database_url']}")
    print(f"  functions         {facts['functions_url']}  (docs: {facts['openapi']})")
    print(f"  MT5 terminal      {facts['mt5_simulator']['address']}  (simulated)")
    print("  demo MT5 accounts (simulator only):")
    for account in facts["mt5_simulator"]["demo_accounts"]:
        print(
            f"    login {account['login']}  password {account['password']}  "
            f"server {account['server']}  {account['balance']:,.0f} {account['currency']}"
        )
    print("  a token for curl: uv run switchyard token you@example.com")
    print(f"  facts written to  {path}", flush=True)
