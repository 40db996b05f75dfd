"""(d) Many workers on one database: 1, 2 and 4 `python -m worker` processes x 2 terminals.

Each worker owns two simulated terminals (0.2 s logins); every order is of another
account, so every job costs a login and throughput is bound by the terminals, as in
production. Printed side by side: orders per second with N workers and its ratio to
N x the one-worker rate (>= 0.8 wanted), checked: no job ran twice (one attempt each,
one execution each in the terminals' journals), every terminal leased by one worker at a
time (polled all along). Then the takeover: a standby worker listing the same terminals
as a busy one, the busy one SIGKILLed, and the time until the standby holds both
terminals, at the default 30 s lease.

    uv run python bench/worker_many.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from worker_common import REPO, add_mt5_account, new_vault, scratch_database

from switchyard.db import connect
from switchyard.domain import client_order_id
from switchyard.sim.mt5.server import SimTerminalProcess, start_in_subprocess, write_accounts

LOGIN_DELAY_S = 0.2
TERMINALS_PER_WORKER = 2
JOBS_PER_TERMINAL = 60
WORKERS = (1, 2, 4)
SERVER = "Bench-Demo"


def _accounts(n: int) -> list[dict[str, Any]]:
    return [
        {
            "login": 50000 + i,
            "password": f"many-{i}",
            "server": SERVER,
            "balance": 1e7,
            "currency": "USD",
            "leverage": 100,
        }
        for i in range(n)
    ]


def _env(url: str, keys: str, terminals: list[str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env.update(
        {
            "DATABASE_URL": url,
            "SWITCHYARD_ENCRYPTION_KEYS": keys,
            "SWITCHYARD_MT5_TERMINALS": ",".join(terminals),
            "SWITCHYARD_DATA_DIR": "/tmp/sy-bench",
            **extra,
        }
    )
    return env


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker"], cwd=REPO, env=env, stdout=out, stderr=out
        )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        p.wait(60)


def _sims(n: int, path: Path) -> list[SimTerminalProcess]:
    """`n` terminals knowing the accounts of `path`, each journalling next to it."""
    return [
        start_in_subprocess(
            path, path.with_suffix(f".journal-{i}.jsonl"), login_delay_s=LOGIN_DELAY_S, seed=9 + i
        )
        for i in range(n)
    ]


def _wait_serving(conn: Any, terminals: int, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while (
        conn.execute(
            "select count(*) as n from private.terminals where lease_owner is not null"
        ).fetchone()["n"]
        < terminals
    ):
        assert all(p.poll() is None for p in processes), "a worker exited"
        assert time.monotonic() < deadline, "terminals not leased"
        time.sleep(0.05)


def throughput(n_workers: int, tmp: Path) -> tuple[float, int]:
    """Orders per second with `n_workers` processes; asserts no job twice, one owner each."""
    terminals = n_workers * TERMINALS_PER_WORKER
    jobs = terminals * JOBS_PER_TERMINAL
    accounts = _accounts(jobs)
    path = write_accounts(tmp / f"accounts-{n_workers}.json", accounts)  # type: ignore[arg-type]
    keys, vault = new_vault()
    sims = _sims(terminals, path)
    with scratch_database() as url, connect(url, autocommit=True) as conn:
        ids = [add_mt5_account(conn, vault, a["login"], a["password"], SERVER) for a in accounts]
        addresses = [f"{s.host}:{s.port}" for s in sims]
        processes = [
            _spawn(
                _env(url, keys, addresses[i * 2 : i * 2 + 2]),
                tmp / f"many-{n_workers}.log",
            )
            for i in range(n_workers)
        ]
        owners: dict[str, set[str]] = {}
        try:
            _wait_serving(conn, terminals, processes)
            started = time.monotonic()
            with conn.transaction():
                job_ids = [
                    conn.execute(
                        "insert into public.jobs (user_id, account_id, kind, payload)"
                        " values (%s, %s, 'order', %s) returning id",
                        (
                            user_id,
                            account_id,
                            Jsonb({"symbol": "EURUSD", "side": "buy", "volume": "0.01"}),
                        ),
                    ).fetchone()["id"]
                    for user_id, account_id in ids
                ]
            while conn.execute(
                "select count(*) as n from public.jobs where finished_at is null"
            ).fetchone()["n"]:
                for row in conn.execute(
                    "select address, lease_owner from private.terminals"
                    " where lease_owner is not null"
                ):
                    owners.setdefault(row["address"], set()).add(row["lease_owner"])
                assert all(p.poll() is None for p in processes), "a worker exited"
                assert time.monotonic() - started < 600, "orders not finished"
                time.sleep(0.05)
            elapsed = time.monotonic() - started
        finally:
            _stop(processes)
            for sim in sims:
                sim.stop()
        rows = conn.execute(
            "select id, status, attempts from public.jobs where id = any(%s)", (job_ids,)
        ).fetchall()
    assert all(r["status"] == "succeeded" for r in rows), Counter(r["status"] for r in rows)
    assert all(r["attempts"] == 1 for r in rows), "a job was claimed twice"
    executed = Counter(rec["comment"] for sim in sims for rec in sim.journal())
    assert set(executed) == {client_order_id(j) for j in job_ids}
    assert max(executed.values()) == 1, "an order executed twice"
    assert all(len(o) == 1 for o in owners.values()), f"a terminal had two owners: {owners}"
    return jobs / elapsed, len(owners)


def takeover(tmp: Path) -> float:
    """Seconds from SIGKILL of the busy worker until the standby holds both terminals."""
    accounts = _accounts(4)
    path = write_accounts(tmp / "accounts-takeover.json", accounts)  # type: ignore[arg-type]
    keys, _ = new_vault()
    sims = _sims(2, path)
    addresses = [f"{s.host}:{s.port}" for s in sims]
    with scratch_database() as url, connect(url, autocommit=True) as conn:
        busy = _spawn(_env(url, keys, addresses), tmp / "busy.log")
        standby: subprocess.Popen[bytes] | None = None
        try:
            _wait_serving(conn, 2, [busy])
            busy_owner = conn.execute(
                "select lease_owner from private.terminals limit 1"
            ).fetchone()["lease_owner"]
            standby = _spawn(_env(url, keys, addresses), tmp / "standby.log")
            time.sleep(8)  # registered, its lanes trying the held terminals
            busy.kill()
            busy.wait(10)
            killed = time.monotonic()
            while (
                conn.execute(
                    "select count(*) as n from private.terminals"
                    " where lease_owner is not null and lease_owner <> %s",
                    (busy_owner,),
                ).fetchone()["n"]
                < 2
            ):
                assert time.monotonic() - killed < 120, "terminals never taken over"
                time.sleep(0.05)
            return time.monotonic() - killed
        finally:
            _stop([p for p in (busy, standby) if p is not None])
            for sim in sims:
                sim.stop()


def main() -> None:
    lines = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rates = {}
        for n in WORKERS:
            rate, leased = throughput(n, tmp)
            rates[n] = rate
            lines.append(
                f"{n} worker(s) x {TERMINALS_PER_WORKER} terminals ({leased} leased, one owner"
                f" each): {rate:6.1f} orders/s  = {rate / (n * rates[1]):.2f} x N x one worker"
                "  (>= 0.8 wanted)"
            )
        lines.append("  every order: one attempt, executed once (journals); checked")
        seconds = takeover(tmp)
        lines.append(
            f"takeover of a SIGKILLed worker's 2 terminals by a standby: {seconds:.1f} s"
            " (lease 30 s, heartbeat 5 s: <= 30 wanted)"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
