"""What the refresh after every trade costs: a trade job's run time with and without it.

One worker, one simulated terminal already on the account; market buys and their closes
one at a time. Run time is `finished_at - started_at` (stamped by the database), so it
holds the terminal calls, the journal and, when on, the refresh (account and positions
read again, the fills since the last deal read and stored). "Off" replaces the refresh
with nothing for its run. The last rounds carry a longer history than the first: the
refresh reads the fills of the last two days (the MT5 adapter's clock slack) each time.

    uv run python bench/journal_refresh.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from worker_common import add_mt5_account, new_vault, scratch_database

import worker.trading.refresh as refresh_module
from switchyard.db import Connection, connect
from switchyard.settings import Settings
from switchyard.sim.mt5.server import start_in_subprocess, write_accounts
from worker.process import Worker

ROUNDS = 60  # a buy and its close each
SERVER = "Bench-Demo"


def wait_done(conn: Connection, job_id: object) -> dict[str, object]:
    while True:
        row = conn.execute(
            "select status, result, extract(epoch from finished_at - started_at)::float8 as s"
            " from public.jobs where id = %s and finished_at is not null",
            (job_id,),
        ).fetchone()
        if row is not None:
            assert row["status"] == "succeeded", row
            return row
        time.sleep(0.002)


def enqueue(conn: Connection, ids: tuple[object, object], kind: str, payload: str) -> object:
    user_id, account_id = ids
    row = conn.execute(
        "insert into public.jobs (user_id, account_id, kind, payload, expires_at)"
        " values (%s, %s, %s, %s::jsonb, now() + interval '1 minute') returning id",
        (user_id, account_id, kind, payload),
    ).fetchone()
    assert row is not None
    return row["id"]


def measure(
    conn: Connection, url: str, settings: Settings, ids: tuple[object, object]
) -> list[float]:
    worker = Worker(settings, url)
    worker.start()
    seconds: list[float] = []
    try:
        for _ in range(ROUNDS):
            buy = wait_done(
                conn,
                enqueue(conn, ids, "order", '{"symbol": "EURUSD", "side": "buy", "volume": "0.1"}'),
            )
            position = buy["result"]["position"]  # type: ignore[index]
            close = wait_done(conn, enqueue(conn, ids, "close", f'{{"position": "{position}"}}'))
            seconds += [float(buy["s"]), float(close["s"])]  # type: ignore[arg-type]
    finally:
        worker.shutdown()
    return seconds


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    account = {"login": 92000, "password": "bench-pw", "server": SERVER, "balance": 1e7}
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as url:
        sim = start_in_subprocess(write_accounts(Path(tmp) / "a.json", [account]))  # type: ignore[list-item]
        keys, vault = new_vault()
        try:
            with connect(url, autocommit=True) as conn:
                ids = add_mt5_account(conn, vault, 92000, "bench-pw", SERVER)
                settings = Settings.model_validate(
                    {
                        "DATABASE_URL": url,
                        "SWITCHYARD_ENCRYPTION_KEYS": keys,
                        "SWITCHYARD_MT5_TERMINALS": f"{sim.host}:{sim.port}",
                        "SWITCHYARD_DATA_DIR": tmp,
                    }
                )
                with_refresh = measure(conn, url, settings, ids)
                original = refresh_module.refresh
                refresh_module.refresh = lambda ctx, session: True  # type: ignore[assignment]
                try:
                    without = measure(conn, url, settings, ids)
                finally:
                    refresh_module.refresh = original
                deals = conn.execute("select count(*) as n from public.deals").fetchone()
        finally:
            sim.stop()
    early, late = with_refresh[:20], with_refresh[-20:]
    print(f"trade job run time, median over {2 * ROUNDS} trades (buy + close) each way")
    print(f"  refresh off  {ms(without):7.1f} ms")
    print(f"  refresh on   {ms(with_refresh):7.1f} ms   ({ms(with_refresh) / ms(without):.2f}x)")
    print(
        f"  refresh on, first 20 vs last 20 trades: {ms(early):.1f} ms vs {ms(late):.1f} ms"
        f" ({ms(late) / ms(early):.2f}x; {deals['n'] if deals else 0} deals stored)"
    )


if __name__ == "__main__":
    main()
