"""(a) Mixed load on one simulated terminal with a realistic login delay.

Our lane scheduling (prefer the logged-in account, bounded by fairness) against the
naive design (log in for every request, in arrival order) and against the ideal bound
(one login per distinct account). Prints logins, wall time and the ratios.

    uv run python bench/worker_scheduling.py
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from worker_common import add_mt5_account, new_vault, scratch_database

from functions.core.db import connect
from functions.core.settings import Settings
from worker.app import Worker
from worker.mt5.bridge import Bridge
from worker.sim.mt5.server import start_in_subprocess, write_accounts

LOGIN_DELAY_S = 0.5
ACCOUNTS = 8
JOBS = 120
SERVER = "Bench-Demo"


def _accounts() -> list[dict[str, Any]]:
    return [
        {
            "login": 90000 + i,
            "password": f"bench-{i}",
            "server": SERVER,
            "balance": 1e7,
            "currency": "USD",
            "leverage": 100,
        }
        for i in range(ACCOUNTS)
    ]


def main() -> None:
    rng = random.Random(1)
    arrivals = [rng.randrange(ACCOUNTS) for _ in range(JOBS)]
    accounts = _accounts()
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as url:
        path = write_accounts(Path(tmp) / "accounts.json", accounts)  # type: ignore[arg-type]
        sim = start_in_subprocess(path, login_delay_s=LOGIN_DELAY_S, seed=3)
        address = f"{sim.host}:{sim.port}"
        try:
            ours_s, ours_logins = run_ours(url, address, accounts, arrivals)
            naive_s, naive_logins = run_naive(address, accounts, arrivals)
            per_order_s = time_orders(address, accounts[0])
        finally:
            sim.stop()
    distinct = len(set(arrivals))
    ideal_s = distinct * LOGIN_DELAY_S + JOBS * per_order_s
    print(f"{JOBS} orders from {distinct} accounts, login delay {LOGIN_DELAY_S} s, one terminal")
    print(f"  ideal bound : {distinct:4d} logins  {ideal_s:7.2f} s")
    print(f"  switchyard  : {ours_logins:4d} logins  {ours_s:7.2f} s")
    print(f"  naive       : {naive_logins:4d} logins  {naive_s:7.2f} s")
    print(f"  naive / switchyard time   : {naive_s / ours_s:5.2f}x")
    print(f"  switchyard / ideal time   : {ours_s / ideal_s:5.2f}x")
    print(f"  switchyard / ideal logins : {ours_logins / distinct:5.2f}x")


def _counting_logins() -> list[int]:
    count = [0]
    original = Bridge.login

    def login(self: Bridge, *args: Any) -> Any:
        count[0] += 1
        return original(self, *args)

    Bridge.login = login  # type: ignore[method-assign]
    return count


def run_ours(
    url: str, address: str, accounts: list[dict[str, Any]], arrivals: list[int]
) -> tuple[float, int]:
    keys, vault = new_vault()
    with connect(url, autocommit=True) as conn:
        ids = [add_mt5_account(conn, vault, a["login"], a["password"], SERVER) for a in accounts]
        settings = Settings.model_validate(
            {
                "DATABASE_URL": url,
                "SWITCHYARD_ENCRYPTION_KEYS": keys,
                "SWITCHYARD_MT5_TERMINALS": address,
                "SWITCHYARD_DATA_DIR": "/tmp/sy-bench",
            }
        )
        count = _counting_logins()
        worker = Worker(settings, url)
        worker.start()
        try:
            started = time.monotonic()
            with conn.transaction():
                for index in arrivals:
                    user_id, account_id = ids[index]
                    conn.execute(
                        "insert into public.jobs (user_id, account_id, kind, payload)"
                        " values (%s, %s, 'order', %s)",
                        (
                            user_id,
                            account_id,
                            Jsonb({"symbol": "EURUSD", "side": "buy", "volume": "0.01"}),
                        ),
                    )
            while conn.execute(
                "select count(*) as n from public.jobs where kind = 'order' and finished_at is null"
            ).fetchone()["n"]:  # type: ignore[index]
                time.sleep(0.01)
            elapsed = time.monotonic() - started
            failed = conn.execute(
                "select count(*) as n from public.jobs where status <> "
                "'succeeded' and kind = 'order'"
            ).fetchone()
            assert failed is not None
            assert failed["n"] == 0, "some bench orders failed"
        finally:
            worker.shutdown()
    return elapsed, count[0]


def run_naive(
    address: str, accounts: list[dict[str, Any]], arrivals: list[int]
) -> tuple[float, int]:
    """Log in, then trade, for every request in arrival order (no DB: favours naive)."""
    bridge = Bridge(address, call_timeout_s=15, login_timeout_s=30)
    started = time.monotonic()
    for index in arrivals:
        account = accounts[index]
        bridge.login(account["login"], account["password"], SERVER)
        _send(bridge)
    elapsed = time.monotonic() - started
    bridge.close()
    return elapsed, len(arrivals)


def _send(bridge: Bridge) -> None:
    info = bridge.account_info()
    assert info is not None
    tick = bridge.tick("EURUSD")
    assert tick is not None
    result = bridge.order_send(
        {
            "action": 1,
            "symbol": "EURUSD",
            "volume": 0.01,
            "type": 0,
            "price": float(tick.ask),
            "deviation": 20,
            "magic": 1,
            "comment": "bench",
            "type_time": 0,
            "type_filling": 1,
        }
    )
    assert result is not None
    assert result.retcode == 10009


def time_orders(address: str, account: dict[str, Any]) -> float:
    """The cost of one order without a login (the terminal already on the account)."""
    bridge = Bridge(address, call_timeout_s=15, login_timeout_s=30)
    bridge.login(account["login"], account["password"], SERVER)
    started = time.monotonic()
    for _ in range(50):
        _send(bridge)
    elapsed = (time.monotonic() - started) / 50
    bridge.close()
    return elapsed


if __name__ == "__main__":
    main()
