"""Fixtures: a simulated MT5 terminal in a subprocess, driven by the real mt5linux client.

One terminal serves the whole session; every test starts from ``_sim.reset()``. Each
terminal keeps its files (accounts, journal, state) in a directory of its own, so a
test that restarts one (``start_sim(state_path=...)`` again) restores only its own.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mt5linux import MetaTrader5

from switchyard.sim.mt5.server import (
    DEMO_SERVER,
    SimAccount,
    SimTerminalProcess,
    start_in_subprocess,
    write_accounts,
)

SERVER = DEMO_SERVER


@dataclass(frozen=True)
class Accounts:
    alice: SimAccount
    bob: SimAccount
    small: SimAccount
    read_only: SimAccount

    def all(self) -> tuple[SimAccount, ...]:
        return (self.alice, self.bob, self.small, self.read_only)


ACCOUNTS = Accounts(
    alice={
        "login": 7001,
        "password": "alice-pw",
        "server": SERVER,
        "balance": 10_000.0,
        "currency": "USD",
        "leverage": 100,
        "name": "Alice",
    },
    bob={
        "login": 7002,
        "password": "bob-pw",
        "server": SERVER,
        "balance": 50_000.0,
        "currency": "EUR",
        "leverage": 30,
        "name": "Bob",
    },
    small={
        "login": 7003,
        "password": "small-pw",
        "server": SERVER,
        "balance": 100.0,
        "currency": "USD",
        "leverage": 10,
        "name": "Small",
    },
    read_only={
        "login": 7004,
        "password": "ro-pw",
        "server": SERVER,
        "balance": 1_000.0,
        "currency": "USD",
        "leverage": 100,
        "name": "Read Only",
        "trade_allowed": False,
    },
)

#: Every terminal in these tests starts with a frozen clock and a fixed seed.
FROZEN_AT_S = 1_700_000_000.0
SEED = 7

StartSim = Callable[..., SimTerminalProcess]


def _start(tmp: Path, **options: Any) -> SimTerminalProcess:
    """A terminal whose files (accounts, journal, state) live in ``tmp``, its own directory."""
    accounts = write_accounts(tmp / "accounts.json", ACCOUNTS.all())
    options.setdefault("seed", SEED)
    options.setdefault("frozen_time_s", FROZEN_AT_S)
    options.setdefault("state_path", tmp / "state.json")
    return start_in_subprocess(accounts, tmp / "journal.jsonl", **options)


@pytest.fixture(scope="session")
def accounts() -> Accounts:
    """The accounts every test terminal knows (alice, bob, small, read_only)."""
    return ACCOUNTS


@pytest.fixture(scope="session")
def frozen_at_s() -> float:
    """Where every test terminal's clock stands still."""
    return FROZEN_AT_S


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimTerminalProcess]:
    with _start(tmp_path_factory.mktemp("sim-mt5")) as handle:
        yield handle


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[StartSim]:
    """Start extra terminals with other options; all stopped after the test."""
    started: list[SimTerminalProcess] = []

    def start(**options: Any) -> SimTerminalProcess:
        handle = _start(tmp_path / f"extra-{len(started)}", **options)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


@pytest.fixture
def control(sim: SimTerminalProcess) -> Iterator[Any]:
    """The terminal's ``MetaTrader5._sim`` control module, after a reset."""
    conn = sim.control()
    try:
        conn.modules.MetaTrader5._sim.reset()
        yield conn.modules.MetaTrader5._sim
    finally:
        conn.close()


def _close(client: MetaTrader5) -> None:
    client._MetaTrader5__conn.close()  # type: ignore[attr-defined]


@pytest.fixture
def connect(sim: SimTerminalProcess, control: Any) -> Iterator[Callable[..., MetaTrader5]]:
    """Factory of real mt5linux clients (default: to the session terminal), closed after."""
    clients: list[MetaTrader5] = []

    def make(handle: SimTerminalProcess = sim) -> MetaTrader5:
        client = MetaTrader5(host=handle.host, port=handle.port)
        clients.append(client)
        return client

    yield make
    for client in clients:
        _close(client)


@pytest.fixture
def mt5(connect: Callable[..., MetaTrader5]) -> MetaTrader5:
    """A real mt5linux client with initialize() done, no account logged in yet."""
    client = connect()
    assert client.initialize() is True
    return client


@pytest.fixture
def log_in() -> Callable[[MetaTrader5, SimAccount], None]:
    def log_in(client: MetaTrader5, account: SimAccount) -> None:
        ok = client.login(account["login"], password=account["password"], server=SERVER)
        assert ok is True, client.last_error()

    return log_in
