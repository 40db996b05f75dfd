"""(b) One full sync cycle over 1,000 simulated exchange accounts, and (c) order latency
through the worker against a bare ccxt call, side by side in one run.

(b) 1,000 verified accounts (Binance, Bybit, OKX in turn, each its own key on the
simulated exchange) get one `sync` job each at once; one worker with
SWITCHYARD_EXCHANGE_LANES lanes serves them: balance, positions, open orders and fills
per account, stored. Timed from the enqueue to the last job's end.
(c) 50 market orders, one at a time, on one warm account: the job's `finished_at -
created_at` (the database's clock: claim, journal, send, settle, write back) against
`create_order` on a warm bare ccxt instance of the same key, against the same simulator.
The simulator has no rate limit, so the budget is off (SWITCHYARD_EXCHANGE_RATE_SCALE=0).

    uv run python bench/exchange_worker.py [ACCOUNTS] [LANES]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from typing import Any

from exchange_common import bench_keys, start_sim
from psycopg.types.json import Jsonb
from worker_common import new_vault, scratch_database

from switchyard.db import Connection, connect
from switchyard.settings import Settings
from switchyard.tokens import ensure_user
from switchyard.vault import Vault, fingerprint_api_key, mask_api_key
from worker.process import Worker

ACCOUNTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
LANES = int(sys.argv[2]) if len(sys.argv) > 2 else 8
ORDERS = 50


def add_accounts(conn: Connection, vault: Vault, keys: list[dict[str, Any]]) -> list[Any]:
    ids = []
    for n, key in enumerate(keys):
        user_id = ensure_user(conn, f"bench-x{n}-{uuid.uuid4().hex[:6]}@example.com")
        row = conn.execute(
            "insert into public.accounts (user_id, kind, venue, name, login, environment,"
            " api_key_masked, status, verified_at, next_sync_at, next_verify_at) values"
            " (%s, 'exchange', %s, 'bench', %s, %s, %s, 'verified', now(), 'infinity',"
            " 'infinity') returning id",
            (
                user_id,
                key["exchange"],
                fingerprint_api_key(key["api_key"]),
                key.get("environment", "live"),
                mask_api_key(key["api_key"]),
            ),
        ).fetchone()
        assert row is not None
        secret = {"api_key": key["api_key"], "api_secret": key["api_secret"]}
        if "passphrase" in key:
            secret["passphrase"] = key["passphrase"]
        sealed = vault.seal(row["id"], secret)
        conn.execute(
            "insert into private.account_secrets (account_id, ciphertext, key_id)"
            " values (%s, %s, %s)",
            (row["id"], sealed.ciphertext, sealed.key_id),
        )
        ids.append((user_id, row["id"]))
    return ids


def enqueue(conn: Connection, ids: list[Any], kind: str, payload: dict[str, Any]) -> list[Any]:
    jobs = []
    for user_id, account_id in ids:
        row = conn.execute(
            "insert into public.jobs (user_id, account_id, kind, payload) values (%s, %s, %s, %s)"
            " returning id",
            (user_id, account_id, kind, Jsonb(payload)),
        ).fetchone()
        assert row is not None
        jobs.append(row["id"])
    return jobs


def wait_all(conn: Connection, jobs: list[Any], timeout_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = conn.execute(
            "select status, created_at, started_at, finished_at from public.jobs"
            " where id = any(%s)",
            (jobs,),
        ).fetchall()
        if all(r["status"] in ("succeeded", "failed", "cancelled") for r in rows):
            return rows
        if time.monotonic() > deadline:
            raise SystemExit(f"jobs not done in {timeout_s} s")
        time.sleep(0.05)


def bare_latencies(sim_url: str, key: dict[str, Any]) -> list[float]:
    import ccxt.async_support as ccxt

    from switchyard.sim.exchange.demo import ccxt_urls

    async def run() -> list[float]:
        exchange = getattr(ccxt, key["exchange"])(
            {"apiKey": key["api_key"], "secret": key["api_secret"], "enableRateLimit": False,
             "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                         "fetchMargins": False}}
        )  # fmt: skip
        exchange.urls["api"] = ccxt_urls(sim_url)[key["exchange"]]
        await exchange.load_markets()
        out = []
        try:
            for n in range(ORDERS):
                began = time.perf_counter()
                await exchange.create_order(
                    "BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": f"bare{n}x"}
                )
                out.append(time.perf_counter() - began)
        finally:
            await exchange.close()
        return out

    return asyncio.run(run())


def main() -> None:
    keys = bench_keys(ACCOUNTS)
    sim = start_sim(keys)
    try:
        with scratch_database() as url, connect(url, autocommit=True) as conn:
            secret, vault = new_vault()
            ids = add_accounts(conn, vault, keys)
            settings = Settings.model_validate(
                {
                    "DATABASE_URL": url,
                    "SWITCHYARD_ENCRYPTION_KEYS": secret,
                    "SWITCHYARD_EXCHANGE_API_URLS": sim.ccxt_urls(),
                    "SWITCHYARD_EXCHANGE_LANES": LANES,
                    "SWITCHYARD_EXCHANGE_RATE_SCALE": 0,
                    "SWITCHYARD_WORKER_POLL_S": 0.5,
                    "SWITCHYARD_SYNC_INTERVAL_S": 86400,
                }
            )
            worker = Worker(settings, url)
            worker.start()
            try:
                began = time.monotonic()
                jobs = enqueue(conn, ids, "sync", {})
                rows = wait_all(conn, jobs, timeout_s=900)
                cycle_s = time.monotonic() - began
                ok = sum(r["status"] == "succeeded" for r in rows)
                # (c) one warm binance account, one order at a time
                account = [ids[0]]
                latencies = []
                for _ in range(ORDERS):
                    job = enqueue(
                        conn, account, "order",
                        {"symbol": "BTC/USDT", "side": "buy", "volume": "0.001"},
                    )  # fmt: skip
                    (row,) = wait_all(conn, job, timeout_s=30)
                    assert row["status"] == "succeeded", row
                    latencies.append((row["finished_at"] - row["created_at"]).total_seconds())
            finally:
                worker.shutdown()
        bare = bare_latencies(sim.url, keys[0])
    finally:
        sim.stop()
    print(f"(b) sync cycle: {ACCOUNTS} accounts, {LANES} lanes: {cycle_s:.1f} s "
          f"({ok} succeeded; {ACCOUNTS / cycle_s:.0f} accounts/s)")  # fmt: skip
    med_w, med_b = statistics.median(latencies), statistics.median(bare)
    p95_w = statistics.quantiles(latencies, n=20)[-1]
    p95_b = statistics.quantiles(bare, n=20)[-1]
    print(f"(c) order latency, {ORDERS} market orders: through the worker p50 "
          f"{med_w * 1000:.1f} ms, p95 {p95_w * 1000:.1f} ms; bare ccxt p50 {med_b * 1000:.1f} "
          f"ms, p95 {p95_b * 1000:.1f} ms; ratio p50 {med_w / med_b:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
