"""What describes one simulated terminal: its accounts, its environment variables, its flags.

Shared by the server (``server.py``), the code that starts one in a child process
(``launch.py``) and ``switchyard dev``. Nothing here imports rpyc or the simulated
package.
"""

import json
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Final, TypedDict

DEMO_SERVER: Final = "Switchyard-Demo"
DEFAULT_PORT: Final = 18812
READY_PREFIX: Final = "SWITCHYARD_SIM_MT5_READY"

ENV_ACCOUNTS: Final = "SWITCHYARD_SIM_MT5_ACCOUNTS"
ENV_JOURNAL: Final = "SWITCHYARD_SIM_MT5_JOURNAL"
ENV_LOGIN_DELAY_MS: Final = "SWITCHYARD_SIM_MT5_LOGIN_DELAY_MS"
ENV_LOGIN_JITTER_MS: Final = "SWITCHYARD_SIM_MT5_LOGIN_JITTER_MS"
ENV_SEED: Final = "SWITCHYARD_SIM_MT5_SEED"
ENV_SYMBOLS: Final = "SWITCHYARD_SIM_MT5_SYMBOLS"
ENV_FROZEN_TIME: Final = "SWITCHYARD_SIM_MT5_FROZEN_TIME"
ENV_STATE: Final = "SWITCHYARD_SIM_MT5_STATE"
_ENV_PREFIX: Final = "SWITCHYARD_SIM_MT5_"
#: The flag that lets the simulator listen on an address other than loopback.
ALLOW_NON_LOOPBACK_FLAG: Final = "--allow-non-loopback"


class SimAccount(TypedDict, total=False):
    login: int
    password: str
    server: str
    balance: float
    currency: str
    leverage: int
    name: str
    trade_allowed: bool
    #: The broker's commission per lot on every deal (default 0).
    commission_per_lot: float


def _demo(
    login: int, name: str, balance: float, currency: str, leverage: int, trade_allowed: bool = True
) -> SimAccount:
    password = f"{name.split()[0].lower()}-demo-pass"
    return SimAccount(
        login=login, password=password, server=DEMO_SERVER, balance=balance,
        currency=currency, leverage=leverage, name=name, trade_allowed=trade_allowed,
    )  # fmt: skip


#: Demo accounts for local runs (passwords "alice-demo-pass" etc.: simulator-only).
DEMO_ACCOUNTS: Final[tuple[SimAccount, ...]] = (
    _demo(5001001, "Alice Demo", 10_000.0, "USD", 100),
    _demo(5001002, "Bob Demo", 25_000.0, "EUR", 30),
    _demo(5001003, "Carol Small Demo", 200.0, "USD", 50),
    _demo(5001004, "Dave Read-Only Demo", 5_000.0, "USD", 100, trade_allowed=False),
)


def write_accounts(path: Path, accounts: Sequence[SimAccount] = DEMO_ACCOUNTS) -> Path:
    """Write ``accounts`` (default: the demo accounts) as the JSON file the server reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(accounts), indent=2) + "\n", encoding="utf-8")
    return path


def sim_environment(
    accounts_path: Path,
    journal_path: Path | None = None,
    *,
    symbols: Sequence[str] | None = None,
    login_delay_s: float = 0.0,
    login_jitter_s: float = 0.0,
    seed: int = 0,
    frozen_time_s: float | None = None,
    state_path: Path | None = None,
) -> dict[str, str]:
    """The SWITCHYARD_SIM_MT5_* variables describing one simulated terminal."""
    env = {
        ENV_ACCOUNTS: str(accounts_path),
        ENV_LOGIN_DELAY_MS: str(round(login_delay_s * 1000)),
        ENV_LOGIN_JITTER_MS: str(round(login_jitter_s * 1000)),
        ENV_SEED: str(seed),
    }
    if journal_path is not None:
        env[ENV_JOURNAL] = str(journal_path)
    if symbols:
        env[ENV_SYMBOLS] = ",".join(symbols)
    if frozen_time_s is not None:
        env[ENV_FROZEN_TIME] = repr(float(frozen_time_s))
    if state_path is not None:
        env[ENV_STATE] = str(state_path)
    return env


def apply_environment(target: MutableMapping[str, str], sim_env: dict[str, str]) -> None:
    """Replace every SWITCHYARD_SIM_MT5_* variable of ``target`` by ``sim_env``'s."""
    for name in [n for n in target if n.startswith(_ENV_PREFIX)]:
        del target[name]
    target.update(sim_env)
