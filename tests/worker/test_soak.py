"""The soak, small: 400 orders from 20 users on two terminals, workers killed, faults armed.

`bench/soak.py` runs the same with >= 10,000 orders from >= 100 users and prints the
figures; here the invariants are what counts (see tests/worker/soak.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.worker.soak import SoakPlan, add_accounts, run_soak, start_terminals, terminals_setting


def test_orders_under_kills_and_login_faults_run_once_each_on_their_own_account(
    db, vault, worker_settings, tmp_path: Path
):
    plan = SoakPlan(users=20, orders=400, kills=2, kill_every_s=3.0, burst=25)
    sims = start_terminals(plan, tmp_path)
    try:
        accounts = add_accounts(db, vault, plan)
        settings = worker_settings(mt5_terminals=terminals_setting(sims))
        report = run_soak(db, settings, sims, accounts, plan, tmp_path / "workers.log")
    finally:
        for sim in sims:
            sim.stop()
    print("\n".join(report.lines()))
    assert report.kills == 2
    assert report.executed == report.succeeded > 0
    assert sum(report.faults.values()) > 0
