"""Configuration of the simulated terminal, read once from environment variables.

| variable                              | meaning                                      |
|---------------------------------------|----------------------------------------------|
| ``SWITCHYARD_SIM_MT5_ACCOUNTS``       | JSON file with the accounts (required)       |
| ``SWITCHYARD_SIM_MT5_JOURNAL``        | JSON-lines trade journal (optional)          |
| ``SWITCHYARD_SIM_MT5_LOGIN_DELAY_MS`` | time a login takes (default 0)               |
| ``SWITCHYARD_SIM_MT5_LOGIN_JITTER_MS``| extra random login time, seeded (default 0)  |
| ``SWITCHYARD_SIM_MT5_SEED``           | seed of prices, tickets and jitter (default 0)|
| ``SWITCHYARD_SIM_MT5_SYMBOLS``        | comma-separated symbols (default: all)       |
| ``SWITCHYARD_SIM_MT5_FROZEN_TIME``    | freeze the clock at this epoch second        |
| ``SWITCHYARD_SIM_MT5_STATE``          | state file kept across restarts (optional)   |
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ._market import DEFAULT_SYMBOLS

ENV_ACCOUNTS: Final = "SWITCHYARD_SIM_MT5_ACCOUNTS"
ENV_JOURNAL: Final = "SWITCHYARD_SIM_MT5_JOURNAL"
ENV_LOGIN_DELAY_MS: Final = "SWITCHYARD_SIM_MT5_LOGIN_DELAY_MS"
ENV_LOGIN_JITTER_MS: Final = "SWITCHYARD_SIM_MT5_LOGIN_JITTER_MS"
ENV_SEED: Final = "SWITCHYARD_SIM_MT5_SEED"
ENV_SYMBOLS: Final = "SWITCHYARD_SIM_MT5_SYMBOLS"
ENV_FROZEN_TIME: Final = "SWITCHYARD_SIM_MT5_FROZEN_TIME"
ENV_STATE: Final = "SWITCHYARD_SIM_MT5_STATE"


@dataclass(frozen=True, kw_only=True)
class AccountSpec:
    """One trading account known to the simulated trade servers."""

    login: int
    password: str = field(repr=False)
    server: str
    balance: float
    currency: str = "USD"
    leverage: int = 100
    name: str = ""
    trade_allowed: bool = True
    #: What the broker charges per lot on every deal, in and out (booked as a negative
    #: commission on the deal and taken from the balance); 0: no commission.
    commission_per_lot: float = 0.0

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> "AccountSpec":
        def text(key: str, default: str | None = None) -> str:
            value = raw.get(key, default)
            if not isinstance(value, str):
                raise TypeError(f"account field {key!r} must be a string")
            return value

        def number(key: str, default: float | None = None) -> float:
            value = raw.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"account field {key!r} must be a number")
            return float(value)

        login = int(number("login"))
        return cls(
            login=login,
            password=text("password"),
            server=text("server"),
            balance=number("balance"),
            currency=text("currency", "USD"),
            leverage=int(number("leverage", 100)),
            name=text("name", f"Simulated {login}"),
            trade_allowed=bool(raw.get("trade_allowed", True)),
            commission_per_lot=number("commission_per_lot", 0.0),
        )


def load_accounts(path: Path) -> list[AccountSpec]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise TypeError(f"{path}: expected a JSON list of accounts")
    return [AccountSpec.from_json(item) for item in raw]


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    accounts: tuple[AccountSpec, ...]
    journal_path: Path | None = None
    login_delay_ms: int = 0
    login_jitter_ms: int = 0
    seed: int = 0
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    frozen_time_s: float | None = None
    #: Where the terminal keeps its state across restarts (``_persist``); None: memory only.
    state_path: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "SimConfig":
        accounts_path = env.get(ENV_ACCOUNTS)
        if not accounts_path:
            raise RuntimeError(f"{ENV_ACCOUNTS} must name the simulated accounts JSON file")
        journal = env.get(ENV_JOURNAL)
        symbols = env.get(ENV_SYMBOLS)
        frozen = env.get(ENV_FROZEN_TIME)
        state = env.get(ENV_STATE)
        return cls(
            accounts=tuple(load_accounts(Path(accounts_path))),
            journal_path=Path(journal) if journal else None,
            login_delay_ms=int(env.get(ENV_LOGIN_DELAY_MS, "0")),
            login_jitter_ms=int(env.get(ENV_LOGIN_JITTER_MS, "0")),
            seed=int(env.get(ENV_SEED, "0")),
            symbols=tuple(s.strip() for s in symbols.split(",")) if symbols else DEFAULT_SYMBOLS,
            frozen_time_s=float(frozen) if frozen else None,
            state_path=Path(state) if state else None,
        )
