"""One alert to 1,000 subscribed accounts: the webhook's answer time, and the fan-out's end.

    uv run python bench/signals_fanout.py [--accounts 1000] [--alerts 50] [--terminals 2]

A scratch database (DATABASE_URL's server, else the embedded Postgres) with `--accounts`
verified MT5 accounts, each its own user, all subscribed to one channel; a second channel
has one subscriber. `switchyard functions` runs in its own process (real HTTP, uvicorn).

1. The webhook's response time, p50/p99, with no worker running: alerts to the
   1,000-subscriber channel (each queues 1,000 jobs in its one statement), next to alerts to
   the 1-subscriber channel and `GET /healthz` (a bare `select 1`, no auth), interleaved in
   the same run. The jobs are removed afterwards.
2. One alert with the worker running on `--terminals` simulated terminals (one lane each,
   logging in to every account in turn): its answer time, and the time until all its jobs
   are terminal (wall clock from the POST, and `max(finished_at) - min(created_at)` from
   the database), with the jobs' final statuses.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from worker_common import new_vault, scratch_database, start_functions

from switchyard.db import Connection, connect
from switchyard.settings import Settings, functions_url_from
from switchyard.sim.mt5.server import start_in_subprocess, write_accounts
from switchyard.tokens import ensure_user
from worker.process import Worker

SERVER = "Bench-Demo"
SECRET = "sysig_bench-secret"


def pct(samples_s: list[float], q: float) -> float:
    ordered = sorted(samples_s)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def line(name: str, samples_s: list[float]) -> str:
    return (
        f"   {name:44} p50 {pct(samples_s, 0.5):7.1f} ms   p99 {pct(samples_s, 0.99):7.1f} ms"
        f"   max {max(samples_s) * 1000:7.1f} ms   (n={len(samples_s)})"
    )


def seed(conn: Connection, vault: Any, accounts: int) -> tuple[str, str]:
    """`accounts` verified accounts subscribed to one channel; a channel of one more."""
    owner = ensure_user(conn, "owner@bench.example")
    digest = hashlib.sha256(SECRET.encode()).digest()
    channels = []
    for name in ("big", "small"):
        row = conn.execute(
            "insert into public.signal_channels (user_id, name, public) values (%s, %s, true) "
            "returning id",
            (owner, name),
        ).fetchone()
        assert row is not None
        conn.execute(
            "insert into private.signal_channel_secrets (channel_id, secret_hash) values (%s, %s)",
            (row["id"], digest),
        )
        channels.append(str(row["id"]))
    with conn.transaction():
        for i in range(accounts + 1):
            user = ensure_user(conn, f"sub{i}@bench.example")
            row = conn.execute(
                "insert into public.accounts (user_id, kind, venue, name, login, server,"
                " environment, status, next_sync_at, next_verify_at) values (%s, 'mt5', 'mt5',"
                " 'bench', %s, %s, 'demo', 'verified', 'infinity', 'infinity') returning id",
                (user, str(90_000 + i), SERVER),
            ).fetchone()
            assert row is not None
            sealed = vault.seal(row["id"], {"password": f"pw-{i}"})
            conn.execute(
                "insert into private.account_secrets (account_id, ciphertext, key_id)"
                " values (%s, %s, %s)",
                (row["id"], sealed.ciphertext, sealed.key_id),
            )
            conn.execute(
                "insert into public.signal_subscriptions (user_id, channel_id, account_id,"
                ' sizing, symbols) values (%s, %s, %s, \'{"mode": "fixed", "volume":'
                ' "0.01"}\', \'{"EURUSD": "EURUSD"}\')',
                (user, channels[0] if i < accounts else channels[1], row["id"]),
            )
    return channels[0], channels[1]


def alert(channel: str, n: int) -> tuple[str, dict[str, Any]]:
    body = {"secret": SECRET, "action": "buy", "symbol": "EURUSD", "id": f"bench-{n}"}
    return f"/v1/signals/{channel}", body


def timed_post(http: httpx.Client, url: str, body: dict[str, Any], queued: int) -> float:
    started = time.perf_counter()
    response = http.post(url, json=body)
    elapsed = time.perf_counter() - started
    if response.status_code != 202 or response.json()["queued"] != queued:
        raise SystemExit(f"{url} answered {response.status_code}: {response.text}")
    return elapsed


def latency(base: str, big: str, small: str, accounts: int, alerts: int) -> None:
    samples: dict[str, list[float]] = {"healthz": [], "small": [], "big": []}
    with httpx.Client(base_url=base, timeout=30) as http:
        for n in range(5):  # warm up: the pool, prepared statements, the plan
            http.get("/healthz")
            timed_post(http, *alert(small, 10_000 + n), 1)
        for n in range(alerts):
            started = time.perf_counter()
            http.get("/healthz")
            samples["healthz"].append(time.perf_counter() - started)
            samples["small"].append(timed_post(http, *alert(small, n), 1))
            samples["big"].append(timed_post(http, *alert(big, n), accounts))
    print(f"1. the webhook over HTTP (one uvicorn process), no worker running, {alerts} rounds")
    print(line("GET /healthz (select 1, no auth)", samples["healthz"]))
    print(line("POST /v1/signals, 1 subscriber", samples["small"]))
    print(line(f"POST /v1/signals, {accounts} subscribers", samples["big"]))
    ratio = statistics.median(samples["big"]) / statistics.median(samples["healthz"])
    print(f"   ratio p50 {accounts}-subscriber alert : /healthz = {ratio:.1f}")
    margin = 3 / (pct(samples["big"], 0.99) / 1000)
    print(f"   p99 under TradingView's 3 s limit by a factor of {margin:.0f}")


def fan_out(
    conn: Connection, base: str, big: str, accounts: int, settings: Settings, url: str
) -> None:
    worker = Worker(settings, url)
    worker.start()
    try:
        assert worker.listener.listening.wait(30)
        with httpx.Client(base_url=base, timeout=30) as http:
            posted = time.perf_counter()
            answered = timed_post(http, *alert(big, 99_999), accounts)
        while True:
            row = conn.execute(
                "select count(*) filter (where status in ('succeeded', 'failed', 'cancelled'))"
                " as done from public.jobs where kind = 'signal'"
            ).fetchone()
            assert row is not None
            if row["done"] == accounts:
                break
            if time.perf_counter() - posted > 1800:
                raise SystemExit(f"only {row['done']} of {accounts} jobs terminal after 30 min")
            time.sleep(0.05)
        wall = time.perf_counter() - posted
    finally:
        worker.shutdown()
    stats = conn.execute(
        "select extract(epoch from max(finished_at) - min(created_at))::float8 as span_s,"
        " extract(epoch from max(started_at) - min(created_at))::float8 as last_start_s"
        " from public.jobs where kind = 'signal'"
    ).fetchone()
    assert stats is not None
    statuses = Counter(
        r["status"]
        for r in conn.execute("select status from public.jobs where kind = 'signal'").fetchall()
    )
    terminals = len(settings.mt5_terminals)
    print(f"2. one alert to {accounts} subscribers, worker on {terminals} simulated terminal(s)")
    print(f"   webhook answered in                     {answered * 1000:8.1f} ms")
    print(f"   all {accounts} jobs terminal after (wall)  {wall:8.2f} s")
    print(f"   first created → last finished (db)     {stats['span_s']:8.2f} s")
    print(f"   throughput                              {accounts / wall:8.1f} jobs/s")
    print(f"   statuses                                {dict(statuses)}")
    print(f"   answer : time to all terminal = 1 : {wall / answered:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--alerts", type=int, default=50)
    parser.add_argument("--terminals", type=int, default=2)
    args = parser.parse_args()
    sim_accounts = [
        {"login": 90_000 + i, "password": f"pw-{i}", "server": SERVER, "balance": 10_000.0}
        for i in range(args.accounts + 1)
    ]
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as url:
        accounts_file = write_accounts(Path(tmp) / "accounts.json", sim_accounts)  # type: ignore[arg-type]
        sims = [start_in_subprocess(accounts_file) for _ in range(args.terminals)]
        keys, vault = new_vault()
        env = {
            "DATABASE_URL": url,
            "SWITCHYARD_FUNCTIONS_DATABASE_URL": functions_url_from(url),
            "SWITCHYARD_ENCRYPTION_KEYS": keys,
            "SUPABASE_JWT_SECRET": "bench-secret-" + "z" * 40,
            "SWITCHYARD_SIGNAL_RATE_LIMIT_PER_MINUTE": str(10**9),
            "SWITCHYARD_SIGNAL_TTL_S": "3600",
            "SWITCHYARD_DATA_DIR": tmp,
        }
        server = None
        try:
            with connect(url, autocommit=True) as conn:
                big, small = seed(conn, vault, args.accounts)
                server, base = start_functions(env)
                latency(base, big, small, args.accounts, args.alerts)
                conn.execute("delete from public.signals")
                conn.execute("delete from public.jobs")
                settings = Settings.model_validate(
                    {
                        **env,
                        "SWITCHYARD_MT5_TERMINALS": ",".join(f"{s.host}:{s.port}" for s in sims),
                        "SWITCHYARD_SCHEDULE_TICK_S": 3600,
                    }
                )
                fan_out(conn, base, big, args.accounts, settings, url)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)
            for sim in sims:
                sim.stop()


if __name__ == "__main__":
    main()
