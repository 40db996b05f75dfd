"""(b) Enqueue → start latency, p50 and p99, woken by NOTIFY and by polling only.

One worker, one simulated terminal already on the account; `switch` jobs arrive one
at a time at random gaps. Latency is `started_at - created_at`, both stamped by the
database. "Polling only" disables the NOTIFY trigger for the run.

    uv run python bench/worker_latency.py
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from worker_common import add_mt5_account, new_vault, scratch_database

from switchyard.db import Connection, connect
from switchyard.settings import Settings
from switchyard.sim.mt5.server import start_in_subprocess, write_accounts
from worker.process import Worker

JOBS = 100
POLL_S = 1.0
SERVER = "Bench-Demo"


def measure(
    conn: Connection, url: str, settings: Settings, ids: tuple[object, object], notify: bool
) -> list[float]:
    conn.execute(f"alter table public.jobs {'enable' if notify else 'disable'} trigger jobs_notify")
    rng = random.Random(2)
    worker = Worker(settings, url)
    worker.start()
    try:
        assert worker.listener.listening.wait(10)
        user_id, account_id = ids
        for _ in range(JOBS):
            row = conn.execute(
                "insert into public.jobs (user_id, account_id, kind) values (%s, %s, 'switch')"
                " returning id",
                (user_id, account_id),
            ).fetchone()
            assert row is not None
            while (
                conn.execute(
                    "select finished_at from public.jobs where id = %s", (row["id"],)
                ).fetchone()["finished_at"]
                is None
            ):  # type: ignore[index]
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.2))
        rows = conn.execute(
            "select extract(epoch from started_at - created_at)::float8 as s from public.jobs"
            " where kind = 'switch' and status = 'succeeded'"
        ).fetchall()
        conn.execute("delete from public.jobs")
    finally:
        worker.shutdown()
    return sorted(r["s"] for r in rows)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000


def main() -> None:
    account = {"login": 91000, "password": "bench-pw", "server": SERVER, "balance": 1e6}
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as url:
        sim = start_in_subprocess(write_accounts(Path(tmp) / "a.json", [account]))  # type: ignore[list-item]
        keys, vault = new_vault()
        try:
            with connect(url, autocommit=True) as conn:
                ids = add_mt5_account(conn, vault, 91000, "bench-pw", SERVER)
                settings = Settings.model_validate(
                    {
                        "DATABASE_URL": url,
                        "SWITCHYARD_ENCRYPTION_KEYS": keys,
                        "SWITCHYARD_MT5_TERMINALS": f"{sim.host}:{sim.port}",
                        "SWITCHYARD_WORKER_POLL_S": POLL_S,
                        "SWITCHYARD_DATA_DIR": tmp,
                    }
                )
                notified = measure(conn, url, settings, ids, notify=True)
                polled = measure(conn, url, settings, ids, notify=False)
        finally:
            sim.stop()
    print(f"enqueue -> start latency over {JOBS} jobs (poll interval {POLL_S} s)")
    print(f"  NOTIFY      p50 {pct(notified, 0.5):8.1f} ms   p99 {pct(notified, 0.99):8.1f} ms")
    print(f"  poll only   p50 {pct(polled, 0.5):8.1f} ms   p99 {pct(polled, 0.99):8.1f} ms")
    print(f"  poll / NOTIFY p50: {statistics.median(polled) / statistics.median(notified):.0f}x")


if __name__ == "__main__":
    main()
