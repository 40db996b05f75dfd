"""Real `python -m worker` processes: SIGKILL at any point, two workers, SIGTERM."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

from switchyard.domain import client_order_id
from tests.worker.helpers import (
    SIM_ACCOUNTS,
    address,
    spawn_worker,
    stop_worker,
    wait_job,
    wait_jobs,
    wait_registered,
)

TERMINAL = {"succeeded", "failed", "cancelled"}


def _statuses(db, jobs):
    rows = db.execute("select id, status from public.jobs where id = any(%s)", (jobs,)).fetchall()
    return {r["id"]: r["status"] for r in rows}


def test_workers_killed_at_random_points_of_the_order_path_never_duplicate_an_order(
    db, start_sim, make_account, enqueue, worker_settings, tmp_path: Path
):
    sim = start_sim(login_delay_s=0.01)
    users = [make_account(SIM_ACCOUNTS[i]) for i in range(4)]
    settings = worker_settings(sim, worker_lease_s=4.5, worker_poll_s=0.3)
    rng = random.Random(20261121)
    jobs = []
    for i in range(16):
        payload = {"symbol": "EURUSD", "side": rng.choice(["buy", "sell"]), "volume": "0.01"}
        jobs.append(enqueue(users[i % len(users)], "order", payload))
    log = tmp_path / "workers.log"
    crash_points = "before_send:0.15,after_send:0.25"
    kills = crashes = 0
    deadline = time.monotonic() + 150
    while set(_statuses(db, jobs).values()) - TERMINAL:
        assert time.monotonic() < deadline, _statuses(db, jobs)
        process = spawn_worker(settings, log, SWITCHYARD_WORKER_CRASH_POINTS=crash_points)
        # the test kills too, at a random moment, wherever the worker happens to be
        kill_after_s = rng.uniform(0.3, 2.5)
        died = False
        start = time.monotonic()
        while time.monotonic() - start < kill_after_s:
            if process.poll() is not None:
                died = True
                break
            time.sleep(0.02)
        if died:
            assert process.returncode == -9, log.read_text()[-2000:]  # a crash point, nothing else
            crashes += 1
        else:
            process.kill()
            kills += 1
        process.wait()
        if kills + crashes >= 12:  # enough chaos: let a clean worker finish the rest
            crash_points = ""
            process = spawn_worker(settings, log)
            try:
                wait_jobs(db, jobs, timeout_s=60)
            finally:
                stop_worker(process)
    executed = sim.journal()
    counts = Counter(record["comment"] for record in executed)
    rows = wait_jobs(db, jobs, timeout_s=1)
    succeeded = {client_order_id(j) for j, r in rows.items() if r["status"] == "succeeded"}
    assert max(counts.values(), default=1) == 1, counts.most_common(3)
    assert set(counts) == succeeded
    assert len(succeeded) == len(jobs), {r["status"] for r in rows.values()}
    assert kills + crashes > 0
    owners = {client_order_id(j): u.login for j, u in zip(jobs, users * 4, strict=False)}
    for record in executed:
        assert record["login"] == owners[record["comment"]]
    text = log.read_text()
    assert all(u.password not in text for u in users)


def test_two_worker_processes_share_one_database_without_sharing_a_job_or_terminal(
    db, start_sim, make_account, enqueue, worker_settings, tmp_path: Path
):
    sims = [start_sim(login_delay_s=0.01), start_sim(login_delay_s=0.01)]
    users = [make_account(SIM_ACCOUNTS[i]) for i in range(6)]
    one = worker_settings(*sims)
    other = worker_settings(*reversed(sims))
    jobs = [
        enqueue(users[i % 6], "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.01"})
        for i in range(30)
    ]
    processes = [spawn_worker(one, tmp_path / "a.log"), spawn_worker(other, tmp_path / "b.log")]
    owners_seen: dict[str, set[str]] = {}
    try:
        # Both running before the jobs can all be done: a worker still importing when the
        # other finished the work would be stopped before it ever served.
        wait_registered(db, processes)
        deadline = time.monotonic() + 60
        while True:
            # polled at least once more after the last job (both still hold their leases)
            done = not set(_statuses(db, jobs).values()) - TERMINAL
            for row in db.execute(
                "select address, lease_owner from private.terminals where lease_owner is not null"
            ):
                owners_seen.setdefault(row["address"], set()).add(row["lease_owner"])
            if done and len(owners_seen) == len(sims):
                break
            assert time.monotonic() < deadline, owners_seen
            time.sleep(0.05)
    finally:
        codes = [stop_worker(p) for p in processes]
    assert codes == [0, 0]
    rows = wait_jobs(db, jobs, timeout_s=1)
    assert all(r["status"] == "succeeded" and r["attempts"] == 1 for r in rows.values()), rows
    counts = Counter(rec["comment"] for sim in sims for rec in sim.journal())
    assert len(counts) == len(jobs)
    assert max(counts.values()) == 1
    assert set(owners_seen) == {address(s) for s in sims}
    assert all(len(owners) == 1 for owners in owners_seen.values()), owners_seen
    workers = db.execute(
        "select count(*) as n from private.workers where stopped_at is not null"
    ).fetchone()
    assert workers["n"] == 2


def test_sigterm_finishes_the_job_in_hand_and_releases_the_terminal(
    db, start_sim, make_account, enqueue, worker_settings, tmp_path: Path
):
    sim = start_sim(login_delay_s=1.5)
    account = make_account(SIM_ACCOUNTS[0])
    settings = worker_settings(sim)
    process = spawn_worker(settings, tmp_path / "w.log")
    try:
        deadline = time.monotonic() + 20
        while (
            db.execute("select 1 from private.terminals where lease_owner is not null").fetchone()
            is None
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        job = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.01"})
        while _statuses(db, [job])[job] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        code = stop_worker(process)  # SIGTERM while the login is under way
    assert code == 0
    row = wait_job(db, job, timeout_s=1)
    assert row["status"] == "succeeded"
    assert len(sim.journal()) == 1
    lease = db.execute("select lease_owner from private.terminals").fetchone()
    assert lease["lease_owner"] is None
