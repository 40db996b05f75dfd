"""Benchmark the HTTP functions: per-request auth + RLS cost, and GET /v1/accounts throughput.

    uv run python bench/functions_latency.py [--seconds 5] [--concurrency 16]

Uses DATABASE_URL (else the embedded Postgres) to create a scratch database, migrated,
with one user owning a few accounts (each with a balance snapshot). Prints:

1. in-process latency (p50/p99) of JWT verification, of the RLS set-up transaction
   (BEGIN, role + claims, rate-limit charge, `select 1`, COMMIT; pipelined), and both;
2. over real HTTP against `switchyard functions` in its own process: throughput and
   p50/p99 of `GET /v1/accounts` next to `GET /healthz` (a bare `select 1`, no auth)
   in the same run, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from psycopg import sql

from functions.api.auth import Principal
from functions.api.ratelimit import Bucket
from functions.api.runtime import Runtime
from functions.api.session import UserSession
from functions.core.db import connect
from functions.core.embedded import embedded_url
from functions.core.migrate import migrate
from functions.core.settings import Settings, functions_url_from
from functions.core.tokens import ensure_user, mint_token
from functions.core.vault import generate_key

REPO = Path(__file__).resolve().parents[1]
ACCOUNTS = 5


def with_db(url: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    params["dbname"] = name
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def percentiles(samples_s: list[float]) -> str:
    ordered = sorted(samples_s)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   (n={len(ordered)})"


async def timed(n: int, op: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(min(200, n // 10)):  # warm up (prepared statements, pool)
        await op()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await op()
        samples.append(time.perf_counter() - started)
    return samples


async def in_process(settings: Settings, conninfo: str, token: str, n: int) -> None:
    runtime = Runtime.build(settings, conninfo)
    await runtime.start()
    await runtime.pool.wait()
    try:
        principal = await runtime.verifier.verify(token)

        async def verify() -> Principal:
            return await runtime.verifier.verify(token)

        async def rls_setup() -> None:
            session = UserSession(
                runtime.pool, principal, {"user-agent": "bench"}, runtime.limits, (Bucket.ALL,)
            )
            async with session.transaction() as cur:
                await cur.execute("select 1")
                await cur.fetchone()

        async def both() -> None:
            user = await runtime.verifier.verify(token)
            session = UserSession(
                runtime.pool, user, {"user-agent": "bench"}, runtime.limits, (Bucket.ALL,)
            )
            async with session.transaction() as cur:
                await cur.execute("select 1")
                await cur.fetchone()

        print("1. per request, in process (one connection, sequential)")
        print(f"   JWT verification (HS256)           {percentiles(await timed(n, verify))}")
        print(f"   RLS set-up txn (+ rate limit)      {percentiles(await timed(n, rls_setup))}")
        print(f"   both                               {percentiles(await timed(n, both))}")
    finally:
        await runtime.stop()


async def load(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> list[float]:
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}: {response.text}")
                samples.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def over_http(env: dict[str, str], token: str, seconds: float, concurrency: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "functions", "functions", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        auth = {"authorization": f"Bearer {token}"}
        await load(f"{base}/v1/accounts", auth, 1.0, concurrency)  # warm up
        results = {}
        for name, path, headers in (
            ("GET /healthz (select 1)", "/healthz", {}),
            ("GET /v1/accounts", "/v1/accounts", auth),
        ):
            samples = await load(base + path, headers, seconds, concurrency)
            results[name] = samples
        print(
            f"2. over HTTP, one uvicorn process, {concurrency} concurrent clients, "
            f"{seconds:.0f} s each"
        )
        rates = {}
        for name, samples in results.items():
            rates[name] = len(samples) / seconds
            print(f"   {name:27} {rates[name]:8.0f} req/s   {percentiles(samples)}")
        bare, accounts = rates.values()
        print(f"   ratio GET /v1/accounts : bare select 1 = {accounts / bare:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()

    admin = os.environ.get("DATABASE_URL") or embedded_url(
        REPO / ".switchyard" / "bench", database="postgres"
    )
    name = f"switchyard_bench_{uuid.uuid4().hex[:8]}"
    with connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_db(admin, name)
    try:
        with connect(url, autocommit=True) as conn:
            migrate(conn)
            user_id = ensure_user(conn, "bench@example.com")
            for i in range(ACCOUNTS):
                conn.execute(
                    "with a as (insert into public.accounts (user_id, kind, venue, name, login,"
                    " server, environment, status, is_default) values (%s, 'mt5', 'mt5', %s,"
                    " %s, 'Bench-Demo', 'demo', 'verified', %s) returning id, user_id) "
                    "insert into public.balance_snapshots (user_id, account_id, balance,"
                    " currency) select user_id, id, 10000, 'USD' from a",
                    (user_id, f"bench {i}", str(1000 + i), i == 0),
                )
        env = {
            "DATABASE_URL": url,
            "SWITCHYARD_FUNCTIONS_DATABASE_URL": functions_url_from(url),
            "SWITCHYARD_ENCRYPTION_KEYS": generate_key(),
            "SUPABASE_JWT_SECRET": "bench-secret-" + "z" * 40,
            "SWITCHYARD_RATE_LIMIT_PER_MINUTE": str(10**9),
            "SWITCHYARD_DATA_DIR": str(REPO / ".switchyard" / "bench"),
        }
        settings = Settings.model_validate(env)
        token = mint_token(settings, user_id, "bench@example.com")
        asyncio.run(
            in_process(settings, env["SWITCHYARD_FUNCTIONS_DATABASE_URL"], token, args.iterations)
        )
        asyncio.run(over_http(env, token, args.seconds, args.concurrency))
    finally:
        with connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
