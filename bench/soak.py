"""(f) The soak: >= 10,000 orders from >= 100 users on 2 simulated terminals, under chaos.

Two `python -m worker` processes (each listing both terminals: one holds them, the other
stands by), one SIGKILLed at random moments and another started, random login delays
(20-100 ms), and faults armed on the terminals all along: refused logins, logins that
hang past their timeout, logins that land on another account. The invariants are
asserted (tests/worker/soak.py: every job terminal, the terminals' journals reconciled
trade by trade and login by login with ours: 0 on a wrong account, 0 duplicates, nothing
executed that we do not know of), then the figures are printed.

    uv run python bench/soak.py [--orders 10000] [--users 100] [--kills 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from worker_common import REPO, new_vault, scratch_database

sys.path.insert(0, str(REPO))  # the soak itself lives with the worker tests

from switchyard.db import connect
from switchyard.settings import Settings
from tests.worker.soak import (
    SoakPlan,
    add_accounts,
    run_soak,
    start_terminals,
    terminals_setting,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=None,
        help="how long the orders may take to finish (default: 1.2 s per order, at least 1 h;"
        " the chaos keeps a 2-terminal run near 2.5 orders/s)",
    )
    args = parser.parse_args()
    plan = SoakPlan(
        users=args.users,
        orders=args.orders,
        kills=args.kills,
        kill_every_s=30.0,
        burst=100,
        burst_gap_s=0.5,
        fault_every_s=4.0,
        timeout_s=args.timeout_s or max(3600.0, args.orders * 1.2),
    )
    keys, vault = new_vault()
    with tempfile.TemporaryDirectory() as tmp_name, scratch_database() as url:
        tmp = Path(tmp_name)
        sims = start_terminals(plan, tmp)
        try:
            with connect(url, autocommit=True) as db:
                accounts = add_accounts(db, vault, plan)
                settings = Settings.model_validate(
                    {
                        "DATABASE_URL": url,
                        "SWITCHYARD_ENCRYPTION_KEYS": keys,
                        "SWITCHYARD_DATA_DIR": str(tmp / "data"),
                        "SWITCHYARD_MT5_TERMINALS": ",".join(terminals_setting(sims)),
                        "SWITCHYARD_WORKER_LEASE_S": "10",
                        "SWITCHYARD_WORKER_HEARTBEAT_S": "2",
                        "SWITCHYARD_WORKER_POLL_S": "1",
                        "SWITCHYARD_MT5_CALL_TIMEOUT_S": "2",
                        "SWITCHYARD_MT5_LOGIN_TIMEOUT_S": "2",
                        "SWITCHYARD_WORKER_RETRY_BASE_S": "0.2",
                        "SWITCHYARD_WORKER_RETRY_MAX_S": "2",
                        # MT5 only: exchange lanes would need a lease that outlasts an
                        # exchange call too (the worker refuses a 10 s one otherwise).
                        "SWITCHYARD_EXCHANGE_LANES": "0",
                    }
                )
                report = run_soak(db, settings, sims, accounts, plan, tmp / "workers.log")
        finally:
            for sim in sims:
                sim.stop()
    print("\n".join(report.lines()))
    print("invariants held: every job terminal, 0 wrong-account, 0 duplicates, journals reconciled")


if __name__ == "__main__":
    main()
