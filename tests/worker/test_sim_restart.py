"""Recovery across a restarted simulated terminal: what was sent is found, never sent again.

This is `switchyard dev` losing its worker right after an order went out while the
terminal restarts too: the terminal comes back with the order (its state file), so the
rescuing worker's look-up finds it by client order id and settles the job without a
second send. A terminal that forgot (the old simulator) made the look-up find nothing
and the order ran twice.
"""

from __future__ import annotations

from pathlib import Path

from switchyard.domain import client_order_id
from tests.worker.helpers import SIM_ACCOUNTS, running, spawn_worker, wait_job


def test_an_order_sent_before_a_worker_crash_and_a_terminal_restart_runs_once(
    db, sim, restart_sim, make_account, enqueue, worker_settings, tmp_path: Path
):
    account = make_account(SIM_ACCOUNTS[0])
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
    settings = worker_settings(sim)
    log = tmp_path / "worker.log"
    crashed = spawn_worker(settings, log, SWITCHYARD_WORKER_CRASH_POINTS="after_send:1")
    assert crashed.wait(60) == -9, log.read_text()[-2000:]  # SIGKILL right after the send
    assert [line["comment"] for line in sim.journal()] == [client_order_id(job)]

    again = restart_sim(sim)
    with running(settings):  # a clean worker rescues the job once its lease has run out
        row = wait_job(db, job, timeout_s=60)
    assert row["status"] == "succeeded", row
    executed = [line for line in again.journal() if line["comment"] == client_order_id(job)]
    assert len(executed) == 1, executed  # found by its client order id, not sent again
    assert row["result"]["order"] == str(executed[0]["order"])
