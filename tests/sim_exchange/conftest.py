"""One simulated exchange per session, in a subprocess, with faults enabled and a ledger.

Every test starts from ``/_sim/reset`` (balances from the accounts file, no orders, no
faults) with BTC pinned at 65000 and ETH at 3200, so fills are deterministic.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from switchyard.sim.exchange.server import SimExchangeProcess, start_in_subprocess
from tests.sim_exchange.helpers import CID_PREFIX, KEYS

PRICES = {"BTC": "65000", "ETH": "3200"}


@pytest.fixture(scope="session")
def sim_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sim-exchange")
    accounts = root / "accounts.json"
    accounts.write_text(json.dumps({"keys": list(KEYS.values())}), encoding="utf-8")
    return accounts, root / "ledger.jsonl"


@pytest.fixture(scope="session")
def sim_process(sim_files: tuple[Path, Path]) -> Iterator[SimExchangeProcess]:
    accounts, ledger = sim_files
    with start_in_subprocess(accounts, ledger, enable_faults=True, seed=7) as process:
        yield process


@pytest.fixture
def sim(sim_process: SimExchangeProcess) -> SimExchangeProcess:
    assert sim_process.process.poll() is None, "the simulated exchange died"
    sim_process.control("reset")
    sim_process.control("prices", PRICES)
    return sim_process


_numbers = itertools.count(1)


@pytest.fixture
def new_client_id() -> Callable[[], str]:
    """Fresh client order ids, unique across the session (the ledger outlives resets)."""
    return lambda: f"{CID_PREFIX}{next(_numbers):08d}"
