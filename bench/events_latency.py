"""Benchmark GET /v1/events: how soon a committed change reaches every open stream, with
LISTEN/NOTIFY and with the polling fallback, side by side in one run.

    uv run python bench/events_latency.py [--users 4] [--streams 8] [--rounds 20]

Uses DATABASE_URL (else the embedded Postgres) for a scratch database. Starts two
`switchyard functions` processes on it, one LISTENing (the default) and one with
SWITCHYARD_FUNCTIONS_LISTEN=false (a transaction pooler's setting; polling every
SWITCHYARD_EVENTS_POLL_INTERVAL_S, default 1 s). Each gets `--streams` streams per user.
Each round renames every user's account in one transaction and times, per stream, commit
→ the event read. Prints p50/p99 per mode, their ratio, and the LISTEN connections each
process holds (pg_stat_activity), however many streams it serves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from pathlib import Path

import httpx
from functions_latency import percentiles, with_db
from psycopg import sql
from worker_common import start_functions

from switchyard.db import connect
from switchyard.embedded import embedded_url
from switchyard.migrate import migrate
from switchyard.settings import Settings, functions_url_from
from switchyard.tokens import ensure_user, mint_token
from switchyard.vault import generate_key

REPO = Path(__file__).resolve().parents[1]


async def follow(
    base: str, token: str, expected: int, arrived: list[tuple[str, float]], ready: asyncio.Event
) -> None:
    """Read one stream until `expected` account events arrived; note each arrival time."""
    headers = {"authorization": f"Bearer {token}"}
    got = 0
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=None)) as client,
        client.stream("GET", "/v1/events", headers=headers) as response,
    ):
        kind = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
                if kind == "ready":
                    ready.set()
            elif line.startswith("data: ") and kind == "account" and '"name":"round ' in line:
                name = line.split('"name":"', 1)[1].split('"', 1)[0]
                arrived.append((name, time.perf_counter()))
                got += 1
                if got == expected:
                    return


async def measure(
    base: str, url: str, tokens: list[str], accounts: list[str], streams: int, rounds: int
) -> tuple[list[float], int]:
    arrived: list[tuple[str, float]] = []
    readies = [asyncio.Event() for _ in range(len(tokens) * streams)]
    tasks = [
        asyncio.create_task(follow(base, token, rounds, arrived, readies[i * streams + j]))
        for i, token in enumerate(tokens)
        for j in range(streams)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    with connect(url, autocommit=True) as conn:
        listening = conn.execute(
            "select count(*) as n from pg_stat_activity where datname = current_database()"
            " and application_name = 'switchyard-functions-listen'"
        ).fetchone()
        committed: dict[str, float] = {}
        for n in range(rounds):
            with conn.transaction():
                for account in accounts:
                    conn.execute(
                        "update public.accounts set name = %s where id = %s",
                        (f"round {n}", account),
                    )
            committed[f"round {n}"] = time.perf_counter()
            await asyncio.sleep(0.3)  # let the round arrive before the next
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    assert listening is not None
    return [at - committed[name] for name, at in arrived], int(listening["n"])


async def run(
    env: dict[str, str], url: str, tokens: list[str], accounts: list[str], a: argparse.Namespace
) -> None:
    modes = (("LISTEN/NOTIFY", {}), ("polling", {"SWITCHYARD_FUNCTIONS_LISTEN": "false"}))
    results = {}
    for name, extra in modes:
        server, base = start_functions({**env, **extra})
        try:
            results[name] = await measure(base, url, tokens, accounts, a.streams, a.rounds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    total = len(tokens) * a.streams
    print(f"commit → event on each of {total} streams ({len(tokens)} users), {a.rounds} rounds")
    for name, (samples, listening) in results.items():
        print(f"   {name:14} {percentiles(samples)}   LISTEN connections: {listening}")
    (live, _), (polled, _) = results.values()
    ratio = sorted(polled)[len(polled) // 2] / sorted(live)[len(live) // 2]
    print(f"   ratio polling : LISTEN (p50) = {ratio:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--streams", type=int, default=8, help="streams per user")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    admin = os.environ.get("DATABASE_URL") or embedded_url(
        REPO / ".switchyard" / "bench", database="postgres"
    )
    name = f"switchyard_bench_{uuid.uuid4().hex[:8]}"
    with connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_db(admin, name)
    try:
        env = {
            "DATABASE_URL": url,
            "SWITCHYARD_FUNCTIONS_DATABASE_URL": functions_url_from(url),
            "SWITCHYARD_ENCRYPTION_KEYS": generate_key(),
            "SUPABASE_JWT_SECRET": "bench-secret-" + "z" * 40,
            "SWITCHYARD_RATE_LIMIT_PER_MINUTE": str(10**9),
            "SWITCHYARD_DATA_DIR": str(REPO / ".switchyard" / "bench"),
        }
        settings = Settings.model_validate(env)
        tokens, accounts = [], []
        with connect(url, autocommit=True) as conn:
            migrate(conn)
            for i in range(args.users):
                email = f"bench{i}@example.com"
                user_id = ensure_user(conn, email)
                row = conn.execute(
                    "insert into public.accounts (user_id, kind, venue, name, login, server,"
                    " environment, status) values (%s, 'mt5', 'mt5', 'start', %s, 'Bench-Demo',"
                    " 'demo', 'verified') returning id",
                    (user_id, str(1000 + i)),
                ).fetchone()
                assert row is not None
                tokens.append(mint_token(settings, user_id, email))
                accounts.append(str(row["id"]))
        asyncio.run(run(env, url, tokens, accounts, args))
    finally:
        with connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
