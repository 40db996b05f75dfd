"""Fixtures for the worker: simulated terminals over TCP, accounts, jobs, settings.

Everything is real: the per-test database, the mt5linux client, the simulator in a
subprocess, and the worker (in-process threads, or `python -m worker` subprocesses for
the crash tests). Plain helpers live in tests/worker/helpers.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from switchyard.db import Connection
from switchyard.settings import Settings
from switchyard.sim.mt5.server import (
    SimAccount,
    SimTerminalProcess,
    start_in_subprocess,
    write_accounts,
)
from switchyard.tokens import ensure_user
from switchyard.vault import Vault
from tests.worker.helpers import SIM_ACCOUNTS, Account, address

StartSim = Callable[..., SimTerminalProcess]


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[StartSim]:
    """A factory of simulated terminals (each its own journal and state file); all stopped."""
    started: list[SimTerminalProcess] = []

    def start(**options: Any) -> SimTerminalProcess:
        n = len(started)
        accounts = write_accounts(tmp_path / f"accounts-{n}.json", SIM_ACCOUNTS)
        options.setdefault("seed", 11 + n)
        options.setdefault("state_path", tmp_path / f"sim-{n}" / "state.json")
        handle = start_in_subprocess(accounts, tmp_path / f"journal-{n}.jsonl", **options)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


@pytest.fixture
def sim(start_sim: StartSim) -> SimTerminalProcess:
    return start_sim()


RestartSim = Callable[[SimTerminalProcess], SimTerminalProcess]


@pytest.fixture
def restart_sim() -> Iterator[RestartSim]:
    """SIGKILL a terminal and start another on its files and port: a terminal reconnecting.

    The first terminal of `start_sim` has seed 11; the restarted one gets the same.
    """
    started: list[SimTerminalProcess] = []

    def killed_and_started_again(handle: SimTerminalProcess) -> SimTerminalProcess:
        handle.process.kill()
        handle.process.wait(10)
        handle.stop()
        again = start_in_subprocess(
            handle.accounts_path,
            handle.journal_path,
            port=handle.port,
            state_path=handle.state_path,
            seed=11,
        )
        started.append(again)
        return again

    yield killed_and_started_again
    for handle in started:
        handle.stop()


MakeAccount = Callable[..., Account]


@pytest.fixture
def make_account(db: Connection, vault: Vault) -> MakeAccount:
    """An MT5 account row with sealed credentials, as the functions would store it."""

    def make(
        sim_acc: SimAccount,
        *,
        status: str = "verified",
        password: str | None = None,
        email: str | None = None,
        kind: str = "mt5",
    ) -> Account:
        user_id = ensure_user(db, email or f"user{sim_acc['login']}-{uuid.uuid4().hex[:6]}@ex.com")
        secret = password if password is not None else sim_acc["password"]
        if kind == "mt5":
            row = db.execute(
                "insert into public.accounts (user_id, kind, venue, name, login, server,"
                " environment, status, verified_at) values (%s, 'mt5', 'mt5', %s, %s, %s,"
                " 'demo', %s, case when %s = 'verified' then now() end) returning id",
                (
                    user_id,
                    sim_acc["name"],
                    str(sim_acc["login"]),
                    sim_acc["server"],
                    status,
                    status,
                ),
            ).fetchone()
        else:
            row = db.execute(
                "insert into public.accounts (user_id, kind, venue, name, login, environment,"
                " api_key_masked, status) values (%s, 'exchange', 'binance', 'Binance',"
                " 'sha256:abc', 'testnet', 'abcd…wxyz', %s) returning id",
                (user_id, status),
            ).fetchone()
        assert row is not None
        sealed = vault.seal(row["id"], {"password": secret})
        db.execute(
            "insert into private.account_secrets (account_id, ciphertext, key_id)"
            " values (%s, %s, %s)",
            (row["id"], sealed.ciphertext, sealed.key_id),
        )
        return Account(id=row["id"], user_id=user_id, login=sim_acc["login"], password=secret)

    return make


Enqueue = Callable[..., uuid.UUID]


@pytest.fixture
def enqueue(db: Connection) -> Enqueue:
    """Queue a job as the functions would (a plain insert; the trigger NOTIFYs)."""

    def add(
        account: Account, kind: str, payload: dict[str, Any] | None = None, **columns: Any
    ) -> uuid.UUID:
        names = ["user_id", "account_id", "kind", "payload", *columns]
        values = [account.user_id, account.id, kind, Jsonb(payload or {}), *columns.values()]
        row = db.execute(
            f"insert into public.jobs ({', '.join(names)}) values"
            f" ({', '.join(['%s'] * len(values))}) returning id",
            values,
        ).fetchone()
        assert row is not None
        return uuid.UUID(str(row["id"]))

    return add


WorkerSettings = Callable[..., Settings]


@pytest.fixture
def worker_settings(settings: Settings) -> WorkerSettings:
    """Settings for a test worker: short leases and polls, fast retries."""

    def make(*sims: SimTerminalProcess, **overrides: Any) -> Settings:
        fields: dict[str, Any] = {
            "mt5_terminals": tuple(address(s) for s in sims),
            "worker_lease_s": 5.0,
            "worker_heartbeat_s": 0.5,
            "worker_poll_s": 0.5,
            "worker_retry_base_s": 0.05,
            "worker_retry_max_s": 0.3,
            "worker_shutdown_grace_s": 10.0,
            "mt5_call_timeout_s": 2.0,
            "mt5_login_timeout_s": 2.0,
            "schedule_tick_s": 0.3,
            "worker_drain_s": 2.0,
            # Exchange lanes only where a test asks (tests/worker/exchange_helpers.py).
            "exchange_lanes": 0,
        }
        fields.update(overrides)
        return settings.model_copy(update=fields)

    return make


@pytest.fixture
def xsim() -> Any:
    """The shared simulated exchange, its faults cleared (tests/worker/exchange_helpers.py)."""
    from tests.worker.exchange_helpers import fresh, simulator  # imports ccxt: only here

    return fresh(simulator())


@pytest.fixture
def xsettings(worker_settings: WorkerSettings, xsim: Any) -> Callable[..., Settings]:
    """Worker settings with exchange lanes on the simulated exchange."""
    from tests.worker.exchange_helpers import worker_fields

    def make(**overrides: Any) -> Settings:
        return worker_settings(**worker_fields(xsim, **overrides))

    return make
