"""Test control of the simulated terminal (not part of the real MetaTrader5 API).

Everything here acts on the one terminal of the server process, so a test can flip a
switch from any rpyc connection to that server:

    client.eval("mt5._sim.set_faults(fail_next_logins=2)")          # an mt5linux client
    conn.modules.MetaTrader5._sim.set_faults(fail_next_logins=2)    # rpyc.classic.connect

Faults (see ``Faults`` for the exact meaning of each):

    set_faults(fail_next_logins=N)          next N logins fail: False, (-6, auth failed)
    set_faults(fail_logins=(login, ...))    these logins always fail until cleared
    set_faults(hang_next_login_s=X)         next login blocks X s, then proceeds
    set_faults(wrong_account_next_logins=N) next N logins say True, terminal on another account
    set_faults(lose_next_send_results=N)    next N order_send execute, return None (-10005)
    set_faults(drop_after_next_sends=N)     next N order_send execute, connection cut
    set_faults(next_send_retcodes=(10004,)) next order_send answers 10004, executes nothing
    set_faults(autotrading_disabled=True)   order_send answers 10027

``reset()`` puts the process back to a freshly started terminal: faults cleared, hung
logins released, logged out, the configured accounts with their starting balances
(``add_account`` ones forgotten), books emptied, tickets renumbered from the seed,
clock and sessions as configured, journal truncated, state file (if any) overwritten
with that fresh state. A *restart* of the process is different: it restores the state
file (``_persist``). ``state_json()`` describes the
terminal for a test to read. Other controls: ``freeze_time``, ``advance_time``,
``unfreeze_time``, ``set_market_open``, ``pin_price``, ``add_account``, ``book_swap``.
"""

import json

from ._config import AccountSpec, SimConfig
from ._faults import Faults, bind_connection_dropper
from ._state import replace, terminal

__all__ = [
    "add_account",
    "advance_time",
    "bind_connection_dropper",
    "book_swap",
    "clear_faults",
    "configure_from_env",
    "faults",
    "freeze_time",
    "pin_price",
    "reset",
    "set_faults",
    "set_market_open",
    "state",
    "state_json",
    "unfreeze_time",
]


def configure_from_env() -> None:
    """(Re)build the terminal from the SWITCHYARD_SIM_MT5_* environment variables.

    With a state file (SWITCHYARD_SIM_MT5_STATE) that exists, the terminal comes back as
    it was saved: a restarted simulator is a terminal reconnecting.
    """
    replace(SimConfig.from_env(), restore_saved=True)


def reset() -> None:
    """Back to a freshly started terminal, journal truncated, state file overwritten."""
    replace().journal.truncate()


def set_faults(**armed: object) -> None:
    """Arm fault switches by name (unknown names raise TypeError)."""
    t = terminal()
    with t.lock:
        t.faults.update(**armed)


def clear_faults() -> None:
    """Disarm every fault and wake any hung login."""
    t = terminal()
    with t.lock:
        t.faults.release.set()
        t.faults = Faults()


def faults() -> dict[str, object]:
    t = terminal()
    with t.lock:
        return t.faults.as_dict()


def freeze_time(at_s: float | None = None) -> None:
    """Stop the clock (at ``at_s`` epoch seconds, or now): prices stop moving."""
    t = terminal()
    with t.lock:
        t.clock.freeze(at_s)


def unfreeze_time() -> None:
    t = terminal()
    with t.lock:
        t.clock.unfreeze()


def advance_time(seconds: float) -> None:
    t = terminal()
    with t.lock:
        t.clock.advance(seconds)


def set_market_open(is_open: bool, symbol: str | None = None) -> None:
    """Open or close one symbol's session, or every session when ``symbol`` is None."""
    t = terminal()
    with t.lock:
        if symbol is None:
            t.market.all_closed = not is_open
        elif is_open:
            t.market.closed.discard(symbol)
        else:
            t.market.closed.add(symbol)


def pin_price(symbol: str, bid: float | None) -> None:
    """Hold ``symbol``'s bid at ``bid`` (the spread stays); None lets it move again."""
    t = terminal()
    with t.lock:
        if bid is None:
            t.market.pinned_bid.pop(symbol, None)
        else:
            t.market.pinned_bid[symbol] = float(bid)


def add_account(
    login: int,
    password: str,
    server: str,
    balance: float,
    currency: str = "USD",
    leverage: int = 100,
    name: str = "",
    trade_allowed: bool = True,
) -> None:
    """Open one more account on the simulated servers (forgotten by ``reset()``)."""
    spec = AccountSpec(
        login=int(login),
        password=str(password),
        server=str(server),
        balance=float(balance),
        currency=str(currency),
        leverage=int(leverage),
        name=str(name) or f"Simulated {login}",
        trade_allowed=bool(trade_allowed),
    )
    t = terminal()
    with t.lock:
        t.add_account(spec)
        t.persist()


def book_swap(ticket: int, amount: float) -> None:
    """The trade server books a rollover: ``amount`` (negative: charged) of swap on the
    open position ``ticket``, whoever's it is; its closing deal carries it."""
    t = terminal()
    with t.lock:
        for book in t.books.values():
            position = book.positions.get(int(ticket))
            if position is not None:
                position.swap = round(position.swap + float(amount), 2)
                t.persist()
                return
    raise KeyError(f"no open position {ticket}")


def state() -> dict[str, object]:
    """Who is logged in, the clock, sessions, faults and every account's book."""
    t = terminal()
    with t.lock:
        return {
            "ipc": t.ipc,
            "login": t.current[1] if t.current else None,
            "server": t.current[0] if t.current else None,
            "time_msc": t.clock.now_ms(),
            "clock_frozen": t.clock.frozen_ms is not None,
            "market_open": {name: t.market.is_open(name) for name in t.market.symbols},
            "last_error": list(t.last_error),
            "faults": t.faults.as_dict(),
            "accounts": [
                {
                    "login": book.account.login,
                    "server": book.account.server,
                    "balance": round(book.balance, 2),
                    "positions": sorted(book.positions),
                    "orders": sorted(book.orders),
                    "history_orders": len(book.history_orders),
                    "history_deals": len(book.history_deals),
                }
                for book in t.books.values()
            ],
        }


def state_json() -> str:
    """``state()`` as JSON text, handy across rpyc (a string travels by value)."""
    return json.dumps(state(), sort_keys=True)
