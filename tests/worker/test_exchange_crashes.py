"""Real `python -m worker` processes on exchange accounts, SIGKILLed at random points of
the order path (crash points and the test's own kills): every order is in the simulated
exchange's ledger exactly once, and no log line holds a secret."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

from switchyard.domain import client_order_id
from tests.worker.exchange_helpers import (
    EXCHANGES,
    KEYS,
    executed,
    fresh,
    simulator,
    store_account,
    worker_env_of,
)
from tests.worker.helpers import spawn_worker, stop_worker, wait_jobs

TERMINAL = {"succeeded", "failed", "cancelled"}


def _statuses(db, jobs):
    rows = db.execute("select id, status from public.jobs where id = any(%s)", (jobs,)).fetchall()
    return {r["id"]: r["status"] for r in rows}


def test_workers_killed_at_random_points_of_the_order_path_place_each_order_once(
    db, vault, enqueue, worker_settings, tmp_path: Path
):
    sim = fresh(simulator())
    start = len(sim.ledger())
    names = [f"{exchange}-crash" for exchange in EXCHANGES]
    accounts = [store_account(db, vault, name) for name in names]
    settings = worker_settings(worker_lease_s=8.0, worker_poll_s=0.3)
    env = worker_env_of(sim, lanes=3)
    rng = random.Random(20261203)
    jobs = []
    for i in range(12):
        payload = {"symbol": "BTC/USDT", "side": rng.choice(["buy", "sell"]), "volume": "0.01"}
        jobs.append(enqueue(accounts[i % len(accounts)], "order", payload))
    log = tmp_path / "workers.log"
    crash_points = "before_send:0.15,after_send:0.3"
    kills = crashes = 0
    deadline = time.monotonic() + 240
    while set(_statuses(db, jobs).values()) - TERMINAL:
        assert time.monotonic() < deadline, _statuses(db, jobs)
        process = spawn_worker(settings, log, SWITCHYARD_WORKER_CRASH_POINTS=crash_points, **env)
        kill_after_s = rng.uniform(0.8, 3.0)
        died = False
        began = time.monotonic()
        while time.monotonic() - began < kill_after_s:
            if process.poll() is not None:
                died = True
                break
            time.sleep(0.02)
        if died:
            assert process.returncode == -9, log.read_text()[-3000:]
            crashes += 1
        else:
            process.kill()
            kills += 1
        process.wait()
        if kills + crashes >= 10:
            crash_points = ""
            process = spawn_worker(settings, log, **env)
            try:
                wait_jobs(db, jobs, timeout_s=90)
            finally:
                stop_worker(process)
    rows = wait_jobs(db, jobs, timeout_s=1)
    assert {r["status"] for r in rows.values()} == {"succeeded"}, rows
    for name, account in zip(names, accounts, strict=True):
        mine = [j for j in jobs if rows[j]["status"] and _account_of(db, j) == account.id]
        counts = Counter(executed(sim, name, start))
        assert counts == Counter({client_order_id(j): 1 for j in mine}), (name, counts)
    assert kills + crashes > 0
    text = log.read_text()
    for name in names:
        key = KEYS[name]
        assert key["api_secret"] not in text
        assert key["api_key"] not in text
        assert key.get("passphrase", "\0") not in text


def _account_of(db, job):
    return db.execute("select account_id from public.jobs where id = %s", (job,)).fetchone()[
        "account_id"
    ]
