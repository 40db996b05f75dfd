"""Benchmark the HTTP functions: per-request auth + RLS cost, and GET /v1/accounts throughput.

    uv run python bench/functions_latency.py [--seconds 5] [--concurrency 16]

Uses DATABASE_URL (else the embedded Postgres) to create a scratch database, migrated,
with one user owning a few accounts (each with a balance snapshot). Prints:

1. in-process latency (p50/p99) of JWT verification, of the RLS set-up transaction
   (BEGIN, rate-limit charge + role + claims in one statement, `select 1`, COMMIT;
   pipelined), with the counters table logged and unlogged side by side (the migration
   makes it unlogged), next to the same transaction without a charge; and both;
2. over real HTTP against `switchyard functions` in its own process: throughput and
   p50/p99 of `GET /v1/accounts` next to `GET /healthz` (a bare `select 1`, no auth)
   in the same run, and their ratio; and `GET /v1/accounts` with an API token (looked
   up and audited in the database on every request) next to the same with a JWT;
3. `GET /v1/accounts` on 1, 2, … uvicorn processes (`--processes 1,2`, the README's
   `uvicorn functions.app:app_from_environment --factory --workers N`), side by side in
   one run: throughput and its ratio to one process. The load generator runs on the same
   machine and takes CPU of its own: on 2 cores, read the ratio as a floor.
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
from functions.api.transactions import UserSession
from switchyard.db import become_role_async, connect
from switchyard.embedded import embedded_url
from switchyard.migrate import migrate
from switchyard.settings import Settings, functions_url_from
from switchyard.tokens import api_token_hash, ensure_user, mint_token, new_api_token
from switchyard.vault import generate_key

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


async def in_process(settings: Settings, conninfo: str, admin_url: str, token: str, n: int) -> None:
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

        async def role_only() -> None:
            async with (
                runtime.pool.connection() as conn,
                conn.pipeline(),
                conn.transaction(),
                conn.cursor() as cur,
            ):
                await become_role_async(cur, "authenticated", principal.claims, {})
                await cur.execute("select 1")
                await cur.fetchone()

        async def counters(persistence: str) -> None:
            with connect(admin_url, autocommit=True) as conn:
                conn.execute(f"alter table private.rate_limit_counters set {persistence}")

        print("1. per request, in process (one connection, sequential)")
        print(f"   JWT verification (HS256)           {percentiles(await timed(n, verify))}")
        print(f"   role + claims + select 1, no charge {percentiles(await timed(n, role_only))}")
        await counters("logged")
        logged = await timed(n, rls_setup)
        await counters("unlogged")
        unlogged = await timed(n, rls_setup)
        print(f"   RLS set-up txn, counters LOGGED    {percentiles(logged)}")
        print(f"   RLS set-up txn, counters unlogged  {percentiles(unlogged)}  (as deployed)")
        print(f"   both (verify + set-up, deployed)   {percentiles(await timed(n, both))}")
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


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Until `base` answers /healthz; SystemExit when the server died or never did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the functions at {base} exited ({server.returncode})")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"the functions at {base} did not answer /healthz in {timeout_s:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def over_http(
    env: dict[str, str], token: str, api_token: str, seconds: float, concurrency: int
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "switchyard", "functions", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, server)
        auth = {"authorization": f"Bearer {token}"}
        by_api_token = {"authorization": f"Bearer {api_token}"}
        await load(f"{base}/v1/accounts", auth, 1.0, concurrency)  # warm up
        results = {}
        for name, path, headers in (
            ("GET /healthz (select 1)", "/healthz", {}),
            ("GET /v1/accounts", "/v1/accounts", auth),
            ("GET /v1/accounts (API token)", "/v1/accounts", by_api_token),
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
        bare, accounts, with_api_token = rates.values()
        print(f"   ratio GET /v1/accounts : bare select 1 = {accounts / bare:.2f}")
        print(f"   ratio API token : JWT on GET /v1/accounts = {with_api_token / accounts:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


async def process_scaling(
    env: dict[str, str], token: str, seconds: float, concurrency: int, counts: list[int]
) -> None:
    auth = {"authorization": f"Bearer {token}"}
    rates: dict[int, float] = {}
    for count in counts:
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "functions.app:app_from_environment",
             "--factory", "--host", "127.0.0.1", "--port", str(port), "--workers", str(count),
             "--no-proxy-headers", "--no-access-log", "--log-level", "warning"],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, server)
            await load(f"{base}/v1/accounts", auth, 2.0, concurrency)  # warm every process
            samples = await load(f"{base}/v1/accounts", auth, seconds, concurrency)
            rates[count] = len(samples) / seconds
            print(
                f"   {count} process(es)  {rates[count]:8.0f} req/s   {percentiles(samples)}"
                f"   ratio to one: {rates[count] / rates[counts[0]]:.2f}"
            )
        finally:
            server.terminate()
            server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument(
        "--processes", default="1,2", help="uvicorn process counts for part 3, e.g. 1,2,4"
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",") if n.strip()]

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
            api_token = new_api_token()
            conn.execute(
                "insert into public.api_tokens (user_id, name, scopes, token_hash, expires_at) "
                "values (%s, 'bench', '{read}', %s, now() + interval '1 day')",
                (user_id, api_token_hash(api_token)),
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
            in_process(
                settings, env["SWITCHYARD_FUNCTIONS_DATABASE_URL"], url, token, args.iterations
            )
        )
        asyncio.run(over_http(env, token, api_token, args.seconds, args.concurrency))
        print(
            f"3. GET /v1/accounts on several uvicorn processes, {args.concurrency} "
            f"concurrent clients, {args.seconds:.0f} s each"
        )
        asyncio.run(process_scaling(env, token, args.seconds, args.concurrency, counts))
    finally:
        with connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
