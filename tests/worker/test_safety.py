"""Invariants 3 and 4 in-process: never the wrong account, never twice after a doubt."""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter

from switchyard.domain import client_order_id
from tests.worker.helpers import SIM_ACCOUNTS, running, set_faults, wait_job, wait_jobs

ALICE, BOB = SIM_ACCOUNTS[0], SIM_ACCOUNTS[1]


def test_many_users_on_two_terminals_every_order_lands_on_its_owners_login(
    db, start_sim, make_account, enqueue, worker_settings
):
    sims = [start_sim(login_delay_s=0.02, login_jitter_s=0.05, seed=s) for s in (1, 2)]
    users = [make_account(SIM_ACCOUNTS[i]) for i in range(10)]
    rng = random.Random(4)
    owner_of: dict[str, int] = {}
    jobs = []
    settings = worker_settings(*sims)
    stop = threading.Event()

    def inject_login_failures() -> None:
        while not stop.wait(0.15):
            set_faults(rng.choice(sims), fail_next_logins=1)

    with running(settings):
        chaos = threading.Thread(target=inject_login_failures)
        chaos.start()
        try:
            for _ in range(60):
                user = rng.choice(users)
                side = rng.choice(["buy", "sell"])
                job = enqueue(user, "order", {"symbol": "EURUSD", "side": side, "volume": "0.01"})
                owner_of[client_order_id(job)] = user.login
                jobs.append(job)
            rows = wait_jobs(db, jobs, timeout_s=90)
        finally:
            stop.set()
            chaos.join()
    executed = [record for sim in sims for record in sim.journal()]
    assert executed, "nothing was executed at all"
    for record in executed:
        assert record["login"] == owner_of[record["comment"]], record
    succeeded = {client_order_id(j) for j, r in rows.items() if r["status"] == "succeeded"}
    counts = Counter(record["comment"] for record in executed)
    assert set(counts) == succeeded
    assert max(counts.values()) == 1
    assert all(r["status"] in ("succeeded", "failed") for r in rows.values())
    # both terminals did work, and logins were switched many times
    assert all(sim.journal() for sim in sims)


def test_an_order_whose_result_is_lost_is_found_by_its_client_order_id_not_resent(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    set_faults(sim, lose_next_send_results=1)
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert row["attempts"] == 2
    [executed] = sim.journal()
    assert row["result"]["order"] == str(executed["order"])
    order = db.execute("select status from public.orders where job_id = %s", (job,)).fetchone()
    assert order["status"] == "filled"


def test_a_connection_dropped_after_the_send_is_reconciled_not_resent(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    set_faults(sim, drop_after_next_sends=1)
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "sell", "volume": "0.2"})
    close_later = []
    with running(worker_settings(sim)):
        row = wait_job(db, job)
        set_faults(sim, drop_after_next_sends=1)
        close_later.append(enqueue(account, "close", {"position": row["result"]["position"]}))
        closed = wait_job(db, close_later[0])
    assert row["status"] == "succeeded", row
    assert closed["status"] == "succeeded", closed
    assert closed["result"]["status"] == "closed"
    assert [j["action"] for j in sim.journal()] == [1, 1]


def test_a_timeout_retcode_is_looked_up_and_resent_only_because_it_did_not_happen(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    set_faults(sim, next_send_retcodes=[10012])  # TIMEOUT, and nothing executed
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert row["attempts"] == 2
    assert len(sim.journal()) == 1


def test_a_hung_login_sends_nothing_until_the_terminal_is_verified(
    db, sim, make_account, enqueue, worker_settings
):
    alice, bob = make_account(ALICE), make_account(BOB)
    settings = worker_settings(sim)
    with running(settings):
        wait_job(db, enqueue(alice, "switch"))
        # bob's login hangs past the rpyc timeout (login timeout + margin), then completes
        set_faults(sim, hang_next_login_s=8.0)
        job = enqueue(bob, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
        row = wait_job(db, job, timeout_s=60)
    assert row["status"] == "succeeded", row
    assert row["attempts"] >= 2
    [executed] = sim.journal()
    assert executed["login"] == BOB["login"]


def test_credentials_never_appear_in_logs_results_or_errors(
    db, sim, make_account, enqueue, worker_settings, caplog
):
    caplog.set_level(logging.DEBUG)
    good = make_account(ALICE)
    bad = make_account(BOB, password="wrong-Secret-xyz", status="pending")
    jobs = [
        enqueue(good, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"}),
        enqueue(bad, "verify"),
    ]
    with running(worker_settings(sim)):
        rows = wait_jobs(db, jobs)
    everything = (
        caplog.text + repr(rows) + repr(db.execute("select * from public.orders").fetchall())
    )
    for secret in (good.password, bad.password):
        assert secret not in everything
