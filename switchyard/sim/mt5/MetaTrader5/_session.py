"""Connecting to the terminal and to trading accounts: initialize, login, shutdown, info."""

import time
from typing import Final

from ._constants import (
    ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
    ACCOUNT_STOPOUT_MODE_PERCENT,
    ACCOUNT_TRADE_MODE_DEMO,
)
from ._state import (
    ERR_AUTH_FAILED,
    ERR_IPC_TIMEOUT,
    ERR_NO_IPC,
    ERR_SUCCESS,
    AccountKey,
    Terminal,
    invalid_argument,
    terminal,
)
from ._types import AccountInfo, TerminalInfo

COMPANY: Final = "Switchyard Simulated Markets Ltd."
BUILD: Final = 4755
_DEFAULT_TIMEOUT_MS: Final = 60_000


def initialize(
    path: str | None = None,
    *,
    login: int | None = None,
    password: str | None = None,
    server: str | None = None,
    timeout: int = _DEFAULT_TIMEOUT_MS,
    portable: bool = False,
) -> bool:
    """Attach to the terminal; with ``login`` also log in to that account."""
    t = terminal()
    with t.lock:
        t.ipc = True
        t.last_error = ERR_SUCCESS
    if login is None:
        return True
    return _login(t, login, password, server, timeout)


def login(
    login: int,
    password: str | None = None,
    server: str | None = None,
    timeout: int = _DEFAULT_TIMEOUT_MS,
) -> bool:
    """Switch the terminal to another trading account."""
    return _login(terminal(), login, password, server, timeout)


def _login(t: Terminal, login: int, password: str | None, server: str | None, timeout: int) -> bool:
    if isinstance(login, bool) or not isinstance(login, int):
        with t.lock:
            t.last_error = invalid_argument("login")
        return False
    with t.login_lock:
        with t.lock:
            if not t.ipc:
                t.last_error = ERR_NO_IPC
                return False
            forced_failure = t.faults.take_login_failure(login)
            misrouted = t.faults.take_wrong_account()
            hang_s = t.faults.take_hang()
            release = t.faults.release
            key = t.resolve(login, server)
            spec = t.accounts.get(key) if key is not None else None
            if spec is None or key is None:
                valid = False
            elif password is None:
                valid = key in t.saved
            else:
                valid = password == spec.password
            if valid and not forced_failure and not hang_s and not misrouted and t.current == key:
                t.last_error = ERR_SUCCESS
                return True
            # The terminal drops the current account as soon as it tries another one.
            previous, t.current = t.current, None
            t.persist()
            jitter = t.config.login_jitter_ms
            delay_ms = t.config.login_delay_ms + (t.rng.randint(0, jitter) if jitter else 0)
        if hang_s:
            release.wait(hang_s)
        if delay_ms > timeout:
            time.sleep(timeout / 1000)
            with t.lock:
                t.last_error = ERR_IPC_TIMEOUT
            return False
        if delay_ms:
            time.sleep(delay_ms / 1000)
        with t.lock:
            if forced_failure or not valid or key is None:
                t.last_error = ERR_AUTH_FAILED
                return False
            if misrouted:  # "logged in", but the terminal is on another account
                t.current = previous if previous not in (None, key) else _another(t, key)
                t.persist()
                t.last_error = ERR_SUCCESS
                return True
            t.current = key
            t.saved.add(key)
            t.persist()
            t.last_error = ERR_SUCCESS
            return True


def _another(t: Terminal, key: AccountKey) -> AccountKey | None:
    """Some other account of the same server (the first by login), if there is one."""
    others = sorted(k for k in t.accounts if k[0] == key[0] and k != key)
    return others[0] if others else None


def shutdown() -> None:
    """Detach from the terminal; it stays logged in to its account."""
    t = terminal()
    with t.lock:
        t.ipc = False
        t.last_error = ERR_SUCCESS


def version() -> tuple[int, int, str] | None:
    t = terminal()
    with t.lock:
        if not t.ipc:
            t.last_error = ERR_NO_IPC
            return None
        t.last_error = ERR_SUCCESS
        return (500, BUILD, "20 Mar 2025")


def last_error() -> tuple[int, str]:
    t = terminal()
    with t.lock:
        return t.last_error


def account_info() -> AccountInfo | None:
    t = terminal()
    with t.lock:
        book = t.current_book()
        if book is None:
            return None
        spec, market = book.account, t.market
        margin = book.used_margin(market)
        equity = book.equity(market)
        t.last_error = ERR_SUCCESS
        return AccountInfo(
            login=spec.login,
            trade_mode=ACCOUNT_TRADE_MODE_DEMO,
            leverage=spec.leverage,
            limit_orders=200,
            margin_so_mode=ACCOUNT_STOPOUT_MODE_PERCENT,
            trade_allowed=spec.trade_allowed,
            trade_expert=True,
            margin_mode=ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
            currency_digits=2,
            fifo_close=False,
            balance=round(book.balance, 2),
            credit=0.0,
            profit=book.floating_profit(market),
            equity=equity,
            margin=margin,
            margin_free=round(equity - margin, 2),
            margin_level=round(equity / margin * 100, 2) if margin else 0.0,
            margin_so_call=50.0,
            margin_so_so=30.0,
            margin_initial=0.0,
            margin_maintenance=0.0,
            assets=0.0,
            liabilities=0.0,
            commission_blocked=0.0,
            name=spec.name,
            server=spec.server,
            currency=spec.currency,
            company=COMPANY,
        )


def terminal_info() -> TerminalInfo | None:
    t = terminal()
    with t.lock:
        if not t.ipc:
            t.last_error = ERR_NO_IPC
            return None
        t.last_error = ERR_SUCCESS
        return TerminalInfo(
            community_account=False,
            community_connection=False,
            connected=t.current is not None,
            dlls_allowed=False,
            trade_allowed=not t.faults.autotrading_disabled,
            tradeapi_disabled=False,
            email_enabled=False,
            ftp_enabled=False,
            notifications_enabled=False,
            mqid=False,
            build=BUILD,
            maxbars=100_000,
            codepage=0,
            ping_last=1_000 if t.current is not None else 0,
            community_balance=0.0,
            retransmission=0.0,
            company=COMPANY,
            name="Switchyard Simulated MetaTrader 5",
            language="English",
            path="C:\\Program Files\\Switchyard Sim MT5",
            data_path="C:\\Program Files\\Switchyard Sim MT5",
            commondata_path="C:\\users\\sim\\AppData\\Roaming\\MetaQuotes\\Terminal\\Common",
        )
