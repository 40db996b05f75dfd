"""Helpers of the worker tests: simulated terminals, jobs, running workers.

Everything is real: the per-test database, the mt5linux client, the simulator in a
subprocess, and the worker (in-process threads, or `python -m worker` subprocesses for
the crash tests).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchyard.db import Connection
from switchyard.settings import Settings
from switchyard.sim.mt5.server import (
    SimAccount,
    SimTerminalProcess,
)
from worker.process import Worker

REPO = Path(__file__).resolve().parents[2]
SERVER = "Switchyard-Test"
TERMINAL_STATUSES = {"succeeded", "failed", "cancelled"}


def sim_account(index: int, **extra: Any) -> SimAccount:
    account: SimAccount = {
        "login": 81000 + index,
        "password": f"pw-{index}-Secret!",
        "server": SERVER,
        "balance": 100_000.0,
        "currency": "USD",
        "leverage": 100,
        "name": f"Test {index}",
    }
    account.update(extra)  # type: ignore[typeddict-item]
    return account


#: The accounts every test terminal knows; #20 has little money; #21's broker charges
#: commission (3.50 per lot on every deal).
SIM_ACCOUNTS: tuple[SimAccount, ...] = (
    *(sim_account(i) for i in range(20)),
    sim_account(20, balance=50.0),
    sim_account(21, commission_per_lot=3.5),
)


def address(sim: SimTerminalProcess) -> str:
    return f"{sim.host}:{sim.port}"


def set_faults(sim: SimTerminalProcess, **faults: Any) -> None:
    conn = sim.control()
    try:
        conn.modules.MetaTrader5._sim.set_faults(**faults)
    finally:
        conn.close()


def sim_state(sim: SimTerminalProcess) -> dict[str, Any]:
    conn = sim.control()
    try:
        return json.loads(conn.modules.MetaTrader5._sim.state_json())
    finally:
        conn.close()


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    user_id: uuid.UUID
    login: int
    password: str


def wait_jobs(
    db: Connection, ids: list[uuid.UUID], timeout_s: float = 30.0
) -> dict[uuid.UUID, dict[str, Any]]:
    """Every job of `ids` in a terminal status, or an AssertionError listing the others."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = db.execute(
            "select id, kind, status, attempts, result, error from public.jobs where id = any(%s)",
            (ids,),
        ).fetchall()
        by_id = {row["id"]: row for row in rows}
        pending = [r for r in rows if r["status"] not in TERMINAL_STATUSES]
        if not pending and len(by_id) == len(ids):
            return by_id
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs not finished in {timeout_s} s: {pending[:5]}")
        time.sleep(0.05)


def wait_job(db: Connection, job_id: uuid.UUID, timeout_s: float = 30.0) -> dict[str, Any]:
    return wait_jobs(db, [job_id], timeout_s)[job_id]


@contextmanager
def running(settings: Settings) -> Iterator[Worker]:
    """A worker in this process (threads), stopped and joined afterwards."""
    assert settings.database_url is not None
    worker = Worker(settings, settings.database_url)
    worker.start()
    try:
        yield worker
    finally:
        worker.shutdown()


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `python -m worker` subprocess for these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    keys = settings.encryption_keys
    assert keys is not None
    assert settings.database_url is not None
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "SWITCHYARD_ENCRYPTION_KEYS": keys.get_secret_value(),
            "SWITCHYARD_DATA_DIR": str(settings.data_dir),
            "SWITCHYARD_MT5_TERMINALS": ",".join(settings.mt5_terminals),
            "SWITCHYARD_WORKER_LEASE_S": str(settings.worker_lease_s),
            "SWITCHYARD_WORKER_HEARTBEAT_S": str(settings.worker_heartbeat_s),
            "SWITCHYARD_WORKER_POLL_S": str(settings.worker_poll_s),
            "SWITCHYARD_WORKER_RETRY_BASE_S": str(settings.worker_retry_base_s),
            "SWITCHYARD_WORKER_RETRY_MAX_S": str(settings.worker_retry_max_s),
            "SWITCHYARD_MT5_CALL_TIMEOUT_S": str(settings.mt5_call_timeout_s),
            "SWITCHYARD_MT5_LOGIN_TIMEOUT_S": str(settings.mt5_login_timeout_s),
            "SWITCHYARD_SCHEDULE_TICK_S": str(settings.schedule_tick_s),
            "SWITCHYARD_SYNC_INTERVAL_S": str(settings.sync_interval_s),
            "SWITCHYARD_EXCHANGE_LANES": str(settings.exchange_lanes),
        }
    )
    env.update(extra)
    return env


def spawn_worker(settings: Settings, log_path: Path, **extra: str) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=REPO,
            env=worker_env(settings, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_registered(
    db: Connection, processes: list[subprocess.Popen[bytes]], timeout_s: float = 30.0
) -> None:
    """Until every process has registered in private.workers (it installed its signal
    handlers before that), or fail with the ones that did not."""
    pids = {p.pid for p in processes}
    deadline = time.monotonic() + timeout_s
    while True:
        rows = db.execute(
            "select pid from private.workers where pid = any(%s)", [list(pids)]
        ).fetchall()
        missing = pids - {r["pid"] for r in rows}
        if not missing:
            return
        exited = [p.pid for p in processes if p.poll() is not None]
        assert not exited, f"worker(s) {exited} exited before registering"
        assert time.monotonic() < deadline, f"worker(s) {sorted(missing)} never registered"
        time.sleep(0.05)


def stop_worker(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout_s)


#: What the test triggers raise: it must never reach a job row (it could be input).
TRIGGER_MESSAGE = "duplicate key value violates unique constraint test_marker_5b2e"


def install_failing_trigger(
    db: Connection,
    *,
    table: str,
    event: str,
    when: str = "true",
    once: bool = False,
    errcode: str = "23505",
) -> None:
    """A trigger on `table` (`event`, e.g. "before insert") that raises `errcode` (23505,
    unique_violation, by default) for rows matching `when` — every time, or only once."""
    guard = "nextval('public.test_failing_once') = 1" if once else "true"
    db.execute("create sequence if not exists public.test_failing_once")
    db.execute(
        f"""create or replace function public.test_failing() returns trigger
            language plpgsql as $$
            begin
                if {guard} then
                    raise exception '{TRIGGER_MESSAGE}' using errcode = '{errcode}';
                end if;
                return new;
            end $$"""
    )
    db.execute(
        f"create trigger test_failing {event} on {table} for each row when ({when})"
        " execute function public.test_failing()"
    )


def drop_failing_trigger(db: Connection, table: str) -> None:
    db.execute(f"drop trigger test_failing on {table}")


def wait_status(
    db: Connection, job_id: uuid.UUID, statuses: set[str], timeout_s: float = 30.0
) -> dict[str, Any]:
    """The job row once its status is one of `statuses`."""
    deadline = time.monotonic() + timeout_s
    while True:
        row = db.execute(
            "select id, kind, status, attempts, result, error, lease_owner from public.jobs"
            " where id = %s",
            (job_id,),
        ).fetchone()
        if row is not None and row["status"] in statuses:
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"job not {statuses} in {timeout_s} s: {row}")
        time.sleep(0.02)


def wait_heartbeats(db: Connection, owner: str, beats: int = 2, timeout_s: float = 30.0) -> None:
    """Wait until `beats` heartbeats of `owner` began after now: after the second one, the
    first one's verdict on every lease (renewed or lost) has reached the lanes."""
    since = db.execute("select now() as at").fetchone()["at"]
    deadline = time.monotonic() + timeout_s
    for _ in range(beats):
        while True:
            row = db.execute(
                "select heartbeat_at from private.workers where id = %s", (owner,)
            ).fetchone()
            if row is not None and row["heartbeat_at"] > since:
                since = row["heartbeat_at"]
                break
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.02)


def order(side: str = "buy", volume: str = "0.1", symbol: str = "EURUSD") -> dict[str, Any]:
    return {"symbol": symbol, "side": side, "volume": volume}
