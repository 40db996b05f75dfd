"""(c) Sync overload: 1,000 MT5 accounts due for sync on 2 terminals with 1 s logins.

Each scheduled MT5 sync costs a login, so two terminals sync at most ~2 accounts a
second: 1,000 accounts every 5 minutes cannot be kept. Meanwhile trades arrive (one every
2 s, from random accounts). What is measured, side by side in one run:

* each trade's wait to start (`started_at - created_at`, the database's clock), p50/p99/max,
  against one login plus one job (the longest sync, login included);
* syncs done, and how many needed no login of their own (they rode on a trade's login);
* the effective sync interval the worker measured (`private.sync_status`, also logged).

    uv run python bench/worker_sync_overload.py
"""

from __future__ import annotations

import logging
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from worker_common import add_mt5_account, count_logins, new_vault, scratch_database

from switchyard.db import connect
from switchyard.settings import Settings
from switchyard.sim.mt5.server import start_in_subprocess, write_accounts
from worker.process import Worker

LOGIN_DELAY_S = 1.0
ACCOUNTS = 1000
TERMINALS = 2
RUN_S = 90.0
TRADE_EVERY_S = 2.0
SERVER = "Bench-Demo"


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  log: %(message)s")
    accounts = [
        {
            "login": 60000 + i,
            "password": f"sync-{i}",
            "server": SERVER,
            "balance": 1e7,
            "currency": "USD",
            "leverage": 100,
        }
        for i in range(ACCOUNTS)
    ]
    keys, vault = new_vault()
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as url:
        path = write_accounts(Path(tmp) / "accounts.json", accounts)  # type: ignore[arg-type]
        sims = [
            start_in_subprocess(path, login_delay_s=LOGIN_DELAY_S, seed=5 + i)
            for i in range(TERMINALS)
        ]
        try:
            with connect(url, autocommit=True) as conn:
                ids = [
                    add_mt5_account(conn, vault, a["login"], a["password"], SERVER)
                    for a in accounts
                ]
                # Last synced one interval ago: every account is due now.
                conn.execute(
                    "update public.accounts set synced_at = now() - interval '300 seconds',"
                    " next_sync_at = now()"
                )
                settings = Settings.model_validate(
                    {
                        "DATABASE_URL": url,
                        "SWITCHYARD_ENCRYPTION_KEYS": keys,
                        "SWITCHYARD_MT5_TERMINALS": ",".join(f"{s.host}:{s.port}" for s in sims),
                        "SWITCHYARD_DATA_DIR": "/tmp/sy-bench",
                    }
                )
                figures = run(conn, settings, url, ids)
        finally:
            for sim in sims:
                sim.stop()
    print("\n".join(figures))


def run(conn: Any, settings: Settings, url: str, ids: list[tuple[Any, Any]]) -> list[str]:
    rng = random.Random(7)
    worker = Worker(settings, url)
    worker.scheduler.status_every_s = 30.0
    trades = []
    with count_logins() as logins:
        worker.start()
        try:
            started = time.monotonic()
            while time.monotonic() - started < RUN_S:
                user_id, account_id = rng.choice(ids)
                row = conn.execute(
                    "insert into public.jobs (user_id, account_id, kind, payload)"
                    " values (%s, %s, 'order', %s) returning id",
                    (
                        user_id,
                        account_id,
                        Jsonb({"symbol": "EURUSD", "side": "buy", "volume": "0.01"}),
                    ),
                ).fetchone()
                trades.append(row["id"])
                time.sleep(rng.uniform(0.5, 1.5) * TRADE_EVERY_S)
            deadline = time.monotonic() + 30
            while conn.execute(
                "select count(*) as n from public.jobs where id = any(%s) and finished_at is null",
                (trades,),
            ).fetchone()["n"]:
                assert time.monotonic() < deadline, "trades not finished"
                time.sleep(0.05)
            elapsed = time.monotonic() - started
        finally:
            worker.shutdown()
        login_count = logins[0]
    waits = [
        r["wait_s"]
        for r in conn.execute(
            "select extract(epoch from started_at - created_at)::float8 as wait_s, status"
            " from public.jobs where id = any(%s)",
            (trades,),
        )
    ]
    failed = conn.execute(
        "select count(*) as n from public.jobs where id = any(%s) and status <> 'succeeded'",
        (trades,),
    ).fetchone()["n"]
    syncs = conn.execute(
        "select count(*) as n,"
        " max(extract(epoch from finished_at - started_at))::float8 as longest_s,"
        " percentile_cont(0.99) within group"
        "   (order by extract(epoch from finished_at - started_at)) as p99_s"
        " from public.jobs where kind = 'sync' and status = 'succeeded'"
    ).fetchone()
    status = conn.execute(
        "select accounts, synced_in_window, window_s, configured_interval_s,"
        " effective_interval_s, backlog from private.sync_status where venue = 'mt5'"
    ).fetchone()
    waits.sort()
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    bound = LOGIN_DELAY_S + syncs["longest_s"]
    jobs_done = syncs["n"] + len(trades)
    return [
        f"{ACCOUNTS} accounts due for sync, {TERMINALS} terminals, {LOGIN_DELAY_S:g} s logins,"
        f" {len(trades)} trades over {elapsed:.0f} s ({failed} not succeeded)",
        f"  trade wait to start: p50 {statistics.median(waits):.2f} s  p99 {p99:.2f} s"
        f"  max {waits[-1]:.2f} s",
        f"  bound, one login + the longest job (a sync, {syncs['longest_s']:.2f} s): {bound:.2f} s"
        f"  -> p99 / bound {p99 / bound:.2f} (<= 1 wanted)",
        f"  syncs done {syncs['n']} ({syncs['n'] / elapsed * 300:.0f} per 5 min);"
        f" logins {login_count} for {jobs_done} jobs:"
        f" {max(jobs_done - login_count, 0)} jobs rode on another job's login",
        f"  sync status (private.sync_status): {status['accounts']} accounts,"
        f" {status['synced_in_window']} synced in the last {status['window_s']:.0f} s,"
        f" effective interval {status['effective_interval_s'] or float('inf'):.0f} s"
        f" (configured {status['configured_interval_s']:.0f} s), backlog {status['backlog']}",
    ]


if __name__ == "__main__":
    main()
