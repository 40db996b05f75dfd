"""(e) Database round trips and bytes per HTTP request and per job kind, measured.

pg_stat_statements is not available everywhere (nor on the embedded Postgres), so the
traffic is counted on the wire: a TCP proxy in front of Postgres reads the frontend
protocol and counts, per connection (named by the `user` and `application_name` of its
startup message), round trips as client turns (the client sends after the server has
answered: pipelined statements share one), the Sync ('S') and simple Query ('Q') messages
(one per statement outside a pipeline), and bytes both ways, all after the startup, so
pooled connections' set-up is not charged to requests.

1. The HTTP functions (`switchyard functions`, its own process, through the proxy):
   `GET /v1/accounts`, and `POST /v1/trades?wait=0` (accepted, no worker running).
2. The worker, in-process, through the proxy: per job of each kind, on the lane's
   connection (claim, the job's reads and writes, write-back); and the background
   traffic of an idle worker (heartbeat, scheduler, listener, polls) per minute.

    uv run python bench/db_traffic.py
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb
from worker_common import REPO, add_mt5_account, new_vault, scratch_database

from switchyard.db import connect
from switchyard.settings import Settings, functions_url_from
from switchyard.sim.mt5.server import start_in_subprocess, write_accounts
from switchyard.tokens import ensure_user, mint_token
from worker.process import Worker

REQUESTS = 200
JOBS = 40


@dataclass
class Traffic:
    #: Client turns: the client sends after the server has answered (or first).
    round_trips: int = 0
    #: Sync and simple Query messages (pipelined ones share a round trip).
    syncs: int = 0
    sent: int = 0
    received: int = 0


class CountingProxy:
    """127.0.0.1:port → the real server; counts round trips and bytes per connection name."""

    def __init__(self, upstream_url: str) -> None:
        params = conninfo_to_dict(upstream_url)
        host = str(params.get("host") or "127.0.0.1")
        port = int(params.get("port") or 5432)
        self.upstream: Any = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        self.family = socket.AF_UNIX if host.startswith("/") else socket.AF_INET
        self.params = params
        self.lock = threading.Lock()
        self.by_name: dict[str, Traffic] = defaultdict(Traffic)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, **override: str) -> str:
        params = {**self.params, "host": "127.0.0.1", "port": str(self.port)}
        params.update(sslmode="disable", **override)
        return make_conninfo("", **{k: v for k, v in params.items() if v is not None})

    def snapshot(self) -> dict[str, Traffic]:
        with self.lock:
            return {
                k: Traffic(v.round_trips, v.syncs, v.sent, v.received)
                for k, v in self.by_name.items()
            }

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            server = socket.socket(self.family, socket.SOCK_STREAM)
            server.connect(self.upstream)
            name: list[str] = ["?"]
            #: whether the server spoke since the client last sent
            state: list[bool] = [True]
            threading.Thread(
                target=self._client_side, args=(client, server, name, state), daemon=True
            ).start()
            threading.Thread(
                target=self._server_side, args=(server, client, name, state), daemon=True
            ).start()

    def _client_side(
        self, client: socket.socket, server: socket.socket, name: list[str], state: list[bool]
    ) -> None:
        buf = b""
        started = False
        try:
            while chunk := client.recv(65536):
                with self.lock:
                    if started and state[0]:
                        self.by_name[name[0]].round_trips += 1
                    state[0] = False
                server.sendall(chunk)
                buf += chunk
                while True:
                    if not started:
                        if len(buf) < 4:
                            break
                        (length,) = struct.unpack("!I", buf[:4])
                        if len(buf) < length:
                            break
                        name[0] = _startup_name(buf[4:length])
                        buf, started = buf[length:], True
                        continue
                    if len(buf) < 5:
                        break
                    kind = buf[:1]
                    (length,) = struct.unpack("!I", buf[1:5])
                    if len(buf) < 1 + length:
                        break
                    with self.lock:
                        traffic = self.by_name[name[0]]
                        traffic.sent += 1 + length
                        if kind in (b"S", b"Q"):
                            traffic.syncs += 1
                    buf = buf[1 + length :]
        except OSError:
            pass
        finally:
            server.close()

    def _server_side(
        self, server: socket.socket, client: socket.socket, name: list[str], state: list[bool]
    ) -> None:
        try:
            while chunk := server.recv(65536):
                with self.lock:
                    self.by_name[name[0]].received += len(chunk)
                    state[0] = True
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            client.close()


def _startup_name(body: bytes) -> str:
    fields = body[4:].split(b"\0")
    params = dict(zip(fields[::2], fields[1::2], strict=False))
    user = params.get(b"user", b"?").decode()
    app = params.get(b"application_name", b"").decode()
    return f"{user}/{app}" if app else user


def _delta(before: dict[str, Traffic], after: dict[str, Traffic], match: str) -> Traffic:
    total = Traffic()
    for name, t in after.items():
        if match not in name:
            continue
        b = before.get(name, Traffic())
        total.round_trips += t.round_trips - b.round_trips
        total.syncs += t.syncs - b.syncs
        total.sent += t.sent - b.sent
        total.received += t.received - b.received
    return total


def _per(t: Traffic, n: int) -> str:
    return (
        f"{t.round_trips / n:5.1f} round trips ({t.syncs / n:5.1f} syncs)"
        f"  {t.sent / n:7.0f} B sent  {t.received / n:7.0f} B received"
    )


def functions_traffic(proxy: CountingProxy, url: str, lines: list[str]) -> None:
    keys, _ = new_vault()
    with connect(url, autocommit=True) as conn:
        user_id = ensure_user(conn, f"traffic-{uuid.uuid4().hex[:6]}@example.com")
        for i in range(3):
            conn.execute(
                "with a as (insert into public.accounts (user_id, kind, venue, name, login,"
                " server, environment, status, is_default) values (%s, 'mt5', 'mt5', %s,"
                " %s, 'Bench-Demo', 'demo', 'verified', %s) returning id, user_id) "
                "insert into public.balance_snapshots (user_id, account_id, balance,"
                " currency) select user_id, id, 10000, 'USD' from a",
                (user_id, f"traffic {i}", str(3000 + i), i == 0),
            )
    env = {
        "DATABASE_URL": proxy.url(),
        "SWITCHYARD_FUNCTIONS_DATABASE_URL": functions_url_from(proxy.url()),
        "SWITCHYARD_ENCRYPTION_KEYS": keys,
        "SUPABASE_JWT_SECRET": "traffic-secret-" + "z" * 40,
        "SWITCHYARD_RATE_LIMIT_PER_MINUTE": str(10**9),
        "SWITCHYARD_DATA_DIR": str(REPO / ".switchyard" / "bench"),
    }
    token = mint_token(Settings.model_validate(env), user_id, "traffic@example.com")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "switchyard", "functions", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
            for _ in range(300):
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            for _ in range(20):  # warm the pool
                assert http.get("/v1/accounts").status_code == 200
            before = proxy.snapshot()
            for _ in range(REQUESTS):
                assert http.get("/v1/accounts").status_code == 200
            middle = proxy.snapshot()
            for i in range(REQUESTS):
                answer = http.post(
                    "/v1/trades?wait=0",
                    headers={"Idempotency-Key": f"traffic-{i}"},
                    json={"symbol": "EURUSD", "side": "buy", "type": "market", "volume": 0.01},
                )
                assert answer.status_code == 202, answer.text
            after = proxy.snapshot()
    finally:
        server.terminate()
        server.wait(10)
    lines.append("HTTP functions (per request, all of the functions' connections):")
    lines.append(f"  GET /v1/accounts (3 accounts) : {_per(_delta(before, middle, ''), REQUESTS)}")
    lines.append(f"  POST /v1/trades?wait=0        : {_per(_delta(middle, after, ''), REQUESTS)}")


def worker_traffic(proxy: CountingProxy, url: str, lines: list[str]) -> None:
    keys, vault = new_vault()
    accounts = [
        {
            "login": 40000 + i,
            "password": f"t-{i}",
            "server": "Bench-Demo",
            "balance": 1e7,
            "currency": "USD",
            "leverage": 100,
        }
        for i in range(2)
    ]
    with tempfile.TemporaryDirectory() as tmp, connect(url, autocommit=True) as conn:
        path = write_accounts(Path(tmp) / "accounts.json", accounts)  # type: ignore[arg-type]
        sim = start_in_subprocess(path, seed=4)
        ids = [
            add_mt5_account(conn, vault, a["login"], a["password"], "Bench-Demo") for a in accounts
        ]  # type: ignore[arg-type]
        settings = Settings.model_validate(
            {
                "DATABASE_URL": proxy.url(),
                "SWITCHYARD_ENCRYPTION_KEYS": keys,
                "SWITCHYARD_MT5_TERMINALS": f"{sim.host}:{sim.port}",
                "SWITCHYARD_DATA_DIR": "/tmp/sy-bench",
            }
        )
        worker = Worker(settings, proxy.url())
        worker.start()
        try:
            time.sleep(2)
            lines.append(
                "worker, per job on the lane's connection (the terminal already on the account):"
            )
            user_id, account_id = ids[0]
            kinds: list[tuple[str, str, dict[str, Any], Any]] = [
                (
                    "order (market)",
                    "order",
                    {"symbol": "EURUSD", "side": "buy", "volume": "0.01"},
                    account_id,
                ),
                ("switch", "switch", {}, account_id),
                ("sync", "sync", {}, account_id),
                ("verify", "verify", {}, account_id),
            ]
            _run_jobs(conn, user_id, account_id, "switch", {}, 1)  # log the terminal in
            for label, kind, payload, account in kinds:
                before = proxy.snapshot()
                _run_jobs(conn, user_id, account, kind, payload, JOBS)
                after = proxy.snapshot()
                lines.append(f"  {label:27}: {_per(_delta(before, after, 'mt5-lane'), JOBS)}")
            before = proxy.snapshot()
            for i in range(JOBS // 2):
                _run_jobs(conn, *(ids[i % 2]), "switch", {}, 1)
            after = proxy.snapshot()
            logins = _per(_delta(before, after, "mt5-lane"), JOBS // 2)
            lines.append(f"  switch with a login        : {logins}")
            before = proxy.snapshot()
            idle_s = 30.0
            time.sleep(idle_s)
            after = proxy.snapshot()
            per_min = 60 / idle_s
            t = _delta(before, after, "switchyard")
            lines.append(
                f"  idle worker, 1 terminal, per minute: {t.round_trips * per_min:.0f} round trips,"
                f" {(t.sent + t.received) * per_min / 1024:.0f} KiB"
                " (heartbeat 5 s, scheduler tick 5 s, poll 5 s)"
            )
        finally:
            worker.shutdown()
            sim.stop()


def _run_jobs(
    conn: Any, user_id: Any, account_id: Any, kind: str, payload: dict[str, Any], n: int
) -> None:
    ids = []
    for _ in range(n):
        row = conn.execute(
            "insert into public.jobs (user_id, account_id, kind, payload) values (%s, %s, %s, %s)"
            " returning id",
            (user_id, account_id, kind, Jsonb(payload)),
        ).fetchone()
        ids.append(row["id"])
        deadline = time.monotonic() + 30
        while (
            conn.execute(
                "select finished_at from public.jobs where id = %s", (row["id"],)
            ).fetchone()["finished_at"]
            is None
        ):
            assert time.monotonic() < deadline, f"{kind} job not finished"
            time.sleep(0.005)
    bad = conn.execute(
        "select count(*) as n from public.jobs where id = any(%s) and status <> 'succeeded'", (ids,)
    ).fetchone()["n"]
    assert bad == 0, f"{bad} {kind} job(s) did not succeed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    lines: list[str] = []
    with scratch_database() as url:
        proxy = CountingProxy(url)
        functions_traffic(proxy, url, lines)
        worker_traffic(proxy, url, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
