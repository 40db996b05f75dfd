"""A simulated terminal that is killed and started again is a terminal reconnecting.

Its state file keeps accounts, balances, positions, pending orders, history, the ticket
counters and the logged-in account; ``reset()`` still means a fresh terminal. And the
server listens on loopback unless told otherwise, loudly.
"""

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mt5linux import MetaTrader5

from switchyard.sim.mt5.server import DEMO_SERVER as SERVER
from switchyard.sim.mt5.server import SimAccount, SimTerminalProcess, start_in_subprocess

Accounts = Any  # conftest.Accounts: .alice, .bob, .small, .read_only
Connect = Callable[..., MetaTrader5]
LogIn = Callable[[MetaTrader5, SimAccount], None]

#: The conftest's seed and frozen clock: a restarted terminal quotes the same prices.
SEED = 7
FROZEN_AT_S = 1_700_000_000.0


Restart = Callable[[SimTerminalProcess], SimTerminalProcess]


@pytest.fixture
def restart() -> Iterator[Restart]:
    """SIGKILL a terminal (no chance to save anything) and start one on the same files."""
    started: list[SimTerminalProcess] = []

    def killed_and_started_again(handle: SimTerminalProcess) -> SimTerminalProcess:
        handle.process.kill()
        handle.process.wait(10)
        handle.stop()
        again = start_in_subprocess(
            handle.accounts_path,
            handle.journal_path,
            state_path=handle.state_path,
            seed=SEED,
            frozen_time_s=FROZEN_AT_S,
        )
        started.append(again)
        return again

    yield killed_and_started_again
    for handle in started:
        handle.stop()


def buy(mt5: MetaTrader5, symbol: str = "EURUSD", volume: float = 0.1, **fields: Any) -> Any:
    return mt5.order_send(
        {
            "action": mt5.TRADE_ACTION_DEAL,
            "symbol": symbol,
            "volume": volume,
            "type": mt5.ORDER_TYPE_BUY,
            "magic": 7,
            "type_filling": mt5.ORDER_FILLING_IOC,
            **fields,
        }
    )


def buy_limit(mt5: MetaTrader5, price: float) -> Any:
    return mt5.order_send(
        {
            "action": mt5.TRADE_ACTION_PENDING,
            "symbol": "EURUSD",
            "volume": 0.2,
            "type": mt5.ORDER_TYPE_BUY_LIMIT,
            "price": price,
            "magic": 7,
            "type_time": mt5.ORDER_TIME_GTC,
        }
    )


def tickets_of(mt5: MetaTrader5) -> tuple[set[int], set[int]]:
    """Every order and deal ticket the logged-in account's history holds."""
    span = (FROZEN_AT_S - 10 * 86_400, FROZEN_AT_S + 86_400)
    orders = {o.ticket for o in mt5.history_orders_get(*span)} | {
        o.ticket for o in mt5.orders_get()
    }
    deals = {d.ticket for d in mt5.history_deals_get(*span)}
    return orders, deals


def test_a_killed_terminal_comes_back_with_its_books_its_login_and_its_ticket_counter(
    start_sim: Any, restart: Restart, connect: Connect, log_in: LogIn, accounts: Accounts
) -> None:
    first = start_sim()
    mt5 = connect(first)
    assert mt5.initialize()
    log_in(mt5, accounts.alice)
    opened = buy(mt5, comment="before the crash")
    ask = mt5.symbol_info_tick("EURUSD").ask
    placed = buy_limit(mt5, round(ask - 0.002, 5))
    assert (opened.retcode, placed.retcode) == (mt5.TRADE_RETCODE_DONE,) * 2
    # Plain values: the proxies die with the process.
    position_ticket, open_price, pending_ticket = int(opened.order), opened.price, placed.order
    alice_money = (mt5.account_info().balance, mt5.account_info().margin)
    alice_orders, alice_deals = tickets_of(mt5)
    control = first.control()
    control.modules.MetaTrader5._sim.add_account(9100, "late-pw", SERVER, 777.0, name="Late")
    control.close()
    log_in(mt5, accounts.bob)
    bob_trade = buy(mt5, symbol="GBPUSD")
    assert bob_trade.retcode == mt5.TRADE_RETCODE_DONE
    bob_position = int(bob_trade.order)
    bob_orders, bob_deals = tickets_of(mt5)

    second = restart(first)
    again = connect(second)
    assert again.initialize()
    # A real terminal reconnects logged in to its last account: bob's.
    assert again.account_info().login == accounts.bob["login"]
    assert [p.ticket for p in again.positions_get()] == [bob_position]
    # Passwords it remembered are remembered still; alice's book is where she left it.
    assert again.login(accounts.alice["login"]) is True
    assert (again.account_info().balance, again.account_info().margin) == alice_money
    (position,) = again.positions_get()
    assert (position.ticket, position.comment, position.price_open) == (
        position_ticket,
        "before the crash",
        open_price,
    )
    assert [o.ticket for o in again.orders_get()] == [pending_ticket]
    assert tickets_of(again) == (alice_orders, alice_deals)
    # Tickets go on counting: nothing handed out before the crash is handed out again.
    after = buy(again, symbol="XAUUSD", volume=0.01)
    assert after.retcode == again.TRADE_RETCODE_DONE
    assert after.order > max(alice_orders | bob_orders)
    assert after.deal > max(alice_deals | bob_deals)
    # An account added at run time survives too, with its balance.
    assert again.login(9100, password="late-pw", server=SERVER) is True
    assert again.account_info().balance == 777.0
    # The journal keeps every line written before the crash.
    assert [line["order"] for line in second.journal()] == [
        position_ticket,
        pending_ticket,
        bob_position,
        after.order,
    ]


def test_every_executed_trade_is_on_disk_before_its_reply(
    start_sim: Any, connect: Connect, log_in: LogIn, accounts: Accounts
) -> None:
    sim = start_sim()
    mt5 = connect(sim)
    assert mt5.initialize()
    log_in(mt5, accounts.alice)
    result = buy(mt5)
    assert sim.state_path is not None
    saved = json.loads(sim.state_path.read_text())
    (alice,) = [a for a in saved["accounts"] if a["spec"]["login"] == accounts.alice["login"]]
    assert [p["ticket"] for p in alice["positions"]] == [result.order]
    assert alice["history_deals"][-1]["ticket"] == result.deal
    assert saved["current"] == {"server": SERVER, "login": accounts.alice["login"]}
    assert (saved["tickets"]["order"], saved["tickets"]["deal"]) == (result.order, result.deal)
    assert not sim.state_path.with_name("state.json.tmp").exists()


def test_reset_gives_a_fresh_terminal_and_a_restart_after_it_stays_fresh(
    start_sim: Any, restart: Restart, connect: Connect, log_in: LogIn, accounts: Accounts
) -> None:
    sim = start_sim()
    mt5 = connect(sim)
    assert mt5.initialize()
    log_in(mt5, accounts.alice)
    first_ticket = int(buy(mt5).order)
    control = sim.control()
    control.modules.MetaTrader5._sim.reset()
    control.close()
    restarted = restart(sim)
    fresh = connect(restarted)
    assert fresh.initialize()
    assert fresh.account_info() is None  # logged out, as reset left it
    log_in(fresh, accounts.alice)
    assert fresh.positions_get() == ()
    assert fresh.account_info().balance == accounts.alice["balance"]
    assert buy(fresh).order == first_ticket  # renumbered from the seed, like a new terminal
    assert [line["order"] for line in restarted.journal()] == [first_ticket]


def run_server(*args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchyard.sim.mt5.server", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_an_unreadable_state_file_stops_the_terminal_instead_of_starting_fresh(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"format": "switchyard-sim-mt5-state", "version": 1, "accounts": [')
    done = run_server("--data-dir", str(tmp_path), "--state", str(state))
    assert done.returncode == 2
    assert str(state) in done.stderr
    assert "move the file away to start a fresh terminal" in done.stderr
    assert "Traceback" not in done.stderr
    assert state.read_text().endswith("[")  # left exactly as it was


def test_two_terminals_never_share_one_state_file(sim_dir_terminal: SimTerminalProcess) -> None:
    assert sim_dir_terminal.state_path is not None
    done = run_server("--state", str(sim_dir_terminal.state_path))
    assert done.returncode == 2
    assert "in use by another simulated terminal" in done.stderr


@pytest.fixture
def sim_dir_terminal(start_sim: Any) -> SimTerminalProcess:
    handle: SimTerminalProcess = start_sim()
    return handle


# -- loopback only ---------------------------------------------------------------------------


def test_the_terminal_listens_on_loopback_by_default(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "switchyard.sim.mt5.server",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
    finally:
        process.kill()
        _, err = process.communicate(timeout=10)
    assert ready[:2] == ["SWITCHYARD_SIM_MT5_READY", "127.0.0.1"]
    assert "WARNING" not in err
    assert (tmp_path / "state.json").exists()  # its data dir holds its state


def test_a_non_loopback_address_is_refused_without_the_explicit_flag(tmp_path: Path) -> None:
    done = run_server("--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0" in done.stderr
    assert "--allow-non-loopback" in done.stderr
    assert "SWITCHYARD_SIM_MT5_READY" not in done.stdout
    assert "Traceback" not in done.stderr


def test_the_explicit_flag_allows_another_address_with_a_warning(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "switchyard.sim.mt5.server", "--port", "0", "--host", "0.0.0.0",
         "--allow-non-loopback", "--no-state", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
    finally:
        process.kill()
        _, err = process.communicate(timeout=10)
    assert ready[:2] == ["SWITCHYARD_SIM_MT5_READY", "0.0.0.0"]
    assert "WARNING: the simulated MT5 terminal listens on 0.0.0.0" in err
    assert "runs any Python code a client sends" in err
    assert not (tmp_path / "state.json").exists()  # --no-state: memory only
