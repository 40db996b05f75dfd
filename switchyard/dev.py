"""`switchyard dev`: the whole local stack in the foreground until Ctrl-C.

Checks that its ports are free, starts (or reuses) the embedded Postgres unless
DATABASE_URL is set, migrates, makes sure a development encryption key and JWT secret
exist in the data directory, then runs as child processes: a simulated MT5 terminal
(mt5linux's rpyc protocol, its state kept in `<data dir>/sim-mt5/`), the simulated
exchange, the Supabase Auth stand-in, the HTTP functions (allowing the dashboard's origin
by CORS), the worker and the web dashboard. Once every one answers (the worker: it holds
the simulated terminal's lease, so a request made now is picked up at once), what runs
where is printed and written to `<data dir>/dev.json`.

A child that dies is restarted with exponential backoff (`functions/supervisor.py`) and
dev.json gets its new pid; one that keeps dying stops `dev` with exit code 1. Ctrl-C or
SIGTERM stops every child and exits 0.
"""

from __future__ import annotations

import argparse
import errno
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from switchyard.db import connect
from switchyard.embedded import database_url
from switchyard.errors import ConfigError
from switchyard.migrate import migrate
from switchyard.settings import Settings, functions_url_from
from switchyard.stand_ins import (
    anon_key,
    dashboard_origins,
    print_banner,
    start_auth,
    start_dashboard,
    start_exchange,
    start_mt5,
)
from switchyard.supervisor import ChildKeepsDyingError, Supervisor
from switchyard.vault import KeyRing, generate_key

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
    """Write dev.json atomically: a reader never sees half of it."""
    path = data_dir / "dev.json"
    tmp = path.with_name("dev.json.tmp")
    tmp.write_text(json.dumps(facts, indent=2) + "\n")
    tmp.replace(path)
    return path


def check_ports(args: argparse.Namespace) -> None:
    """Before anything starts: each port `dev` will listen on is free, or which flag moves it."""
    wanted = (
        (args.host, args.port, "--port"),
        ("127.0.0.1", args.mt5_port, "--mt5-port"),
        ("127.0.0.1", args.exchange_port, "--exchange-port"),
        ("127.0.0.1", args.auth_port, "--auth-port"),
        ("127.0.0.1", args.dashboard_port, "--dashboard-port"),
    )
    taken: dict[int, str] = {}
    for _, port, flag in wanted:
        if port in taken:
            raise ConfigError(
                f"{taken[port]} and {flag} are both {port}: give each part its own port"
            )
        taken[port] = flag
    for host, port, flag in wanted:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            # As the servers will: SO_REUSEADDR, so only a live listener counts as taken.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise ConfigError(
                        f"port {port} is in use: pass {flag} to use another"
                    ) from None
                raise ConfigError(
                    f"cannot listen on {host}:{port} ({exc.strerror}): pass {flag} to use another"
                ) from None


def _wait_until(
    ready: Callable[[], bool],
    what: str,
    supervisor: Supervisor,
    stopping: threading.Event,
    timeout_s: float,
) -> bool:
    """Poll until ``ready()``; False when told to stop first. Children are supervised meanwhile."""
    deadline = time.monotonic() + timeout_s
    while not stopping.is_set():
        supervisor.poll()
        if ready():
            return True
        if time.monotonic() > deadline:
            raise ConfigError(f"{what} did not come up within {timeout_s:.0f} s")
        stopping.wait(0.2)
    return False


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own http URL
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _worker_serves(url: str, address: str, supervisor: Supervisor) -> bool:
    """Whether the worker child now holds the terminal's lease: it registered and its
    lanes run, so a request made after the banner is picked up at once."""
    pid = supervisor.pids().get("worker")
    if pid is None:
        return False
    with connect(url, autocommit=True) as conn:
        row = conn.execute(
            """select 1 from private.terminals t
                 join private.workers w on w.id = t.lease_owner
                where t.address = %s and t.lease_expires_at > now() and w.pid = %s""",
            (address, pid),
        ).fetchone()
    return row is not None


def _spawn(argv: list[str], env: dict[str, str]) -> Callable[[], subprocess.Popen[Any]]:
    # Our own modules; their output goes to our terminal.
    return lambda: subprocess.Popen(argv, env=env)  # noqa: S603


def run_dev(settings: Settings, args: argparse.Namespace) -> int:
    check_ports(args)
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        applied = migrate(conn)
    keys = dev_encryption_keys(settings)
    jwt_secret = settings.jwt_secret().get_secret_value()
    facts: dict[str, Any] = {}

    def refresh_pids() -> None:
        if facts:  # after the banner: dev.json says which processes run now
            facts["pids"], facts["restarts"] = supervisor.pids(), supervisor.restarts()
            write_dev_json(settings.data_dir, facts)

    supervisor = Supervisor(on_restart=refresh_pids)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        sim = start_mt5(
            settings.data_dir, args.mt5_port, args.mt5_login_delay_ms / 1000, supervisor
        )
        exchange = start_exchange(settings.data_dir, args.exchange_port, supervisor)
        auth = start_auth(settings.data_dir, args.auth_port, url, supervisor)
        # The functions log in as their own role (made by the migrations), never as the
        # service connection: locally without a password, unless one is configured.
        functions_db = settings.functions_database_url or functions_url_from(url)
        env = os.environ | {
            "DATABASE_URL": url,
            "SWITCHYARD_FUNCTIONS_DATABASE_URL": functions_db,
            "SWITCHYARD_DATA_DIR": str(settings.data_dir.resolve()),
            "SWITCHYARD_ENCRYPTION_KEYS": keys,
            "SUPABASE_JWT_SECRET": jwt_secret,
            "SWITCHYARD_MT5_TERMINALS": sim["address"],
            # Exchange accounts go to the simulated exchange: ccxt's urls['api'] replaced.
            "SWITCHYARD_EXCHANGE_API_URLS": json.dumps(exchange["ccxt_urls"]),
            # The simulator has no rate limit to respect (production: the exchange's).
            "SWITCHYARD_EXCHANGE_RATE_SCALE": os.environ.get("SWITCHYARD_EXCHANGE_RATE_SCALE", "0"),
            # The functions verify the stand-in's ES256 tokens through its JWKS, exactly as
            # a hosted project's (HS256 tokens of `switchyard token` still work locally).
            "SUPABASE_URL": auth["supabase_url"],
            # The dashboard is served from its own origin: the functions allow it (and
            # whatever the operator already listed), never `*`.
            "SWITCHYARD_CORS_ORIGINS": ",".join(
                dict.fromkeys([*settings.cors_origins, *dashboard_origins(args.dashboard_port)])
            ),
        }
        functions_url = f"http://{args.host}:{args.port}"
        for what, port in (
            ("the simulated MT5 terminal", args.mt5_port),
            ("the simulated exchange", args.exchange_port),
            ("the local Supabase Auth", args.auth_port),
        ):
            if not _wait_until(
                functools.partial(_accepts, "127.0.0.1", port),
                f"{what} on port {port}",
                supervisor, stopping, START_TIMEOUT_S,
            ):  # fmt: skip
                return 0
        supervisor.start(
            "functions",
            _spawn(
                [sys.executable, "-m", "switchyard", "functions", "--host", args.host,
                 "--port", str(args.port)],
                env,
            ),
        )  # fmt: skip
        supervisor.start("worker", _spawn([sys.executable, "-m", "worker"], env))
        dashboard = start_dashboard(
            settings.data_dir, args.dashboard_port, supervisor,
            supabase_url=auth["supabase_url"], functions_url=functions_url,
        )  # fmt: skip
        for ready in (f"{functions_url}/healthz", f"{dashboard['url']}/config.json"):
            if not _wait_until(
                functools.partial(_answers_http, ready), ready, supervisor, stopping,
                START_TIMEOUT_S,
            ):  # fmt: skip
                return 0
        if not _wait_until(
            functools.partial(_worker_serves, url, sim["address"], supervisor),
            "the worker (its lease on the simulated terminal)", supervisor, stopping,
            START_TIMEOUT_S,
        ):  # fmt: skip
            return 0
        facts |= {
            "database_url": url,
            "embedded_database": settings.database_url is None,
            "migrations_applied_now": [m.version for m in applied],
            "functions_url": functions_url,
            "functions_database_user": conninfo_to_dict(functions_db).get("user"),
            "openapi": f"{functions_url}/docs",
            "dashboard_url": dashboard["url"],
            "dashboard_config": dashboard["config"],
            "mt5_terminals": [sim["address"]],
            "mt5_simulator": sim,
            "exchange_simulator": exchange,
            "supabase_url": auth["supabase_url"],
            "anon_key": anon_key(settings.data_dir),
            "data_dir": str(settings.data_dir.resolve()),
            "pids": supervisor.pids(),
            "restarts": supervisor.restarts(),
        }
        path = write_dev_json(settings.data_dir, facts)
        print_banner(facts, path)
        while not stopping.wait(0.2):
            supervisor.poll()
    except ChildKeepsDyingError as exc:
        print(f"switchyard dev: {exc}; stopping the stack", file=sys.stderr, flush=True)
        return 1
    else:
        return 0
    finally:
        supervisor.stop()
        print("switchyard dev stopped", flush=True)
