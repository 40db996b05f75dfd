"""A simulated ``MetaTrader5`` package: the real API's names, constants and return shapes.

It runs inside the simulated terminal's rpyc server (``switchyard.sim.mt5.server``) where
the real ``mt5linux`` client imports it as ``MetaTrader5``, and it must import nothing
from the rest of switchyard. Test controls live in ``MetaTrader5._sim``.
"""

from . import _sim
from ._constants import *  # noqa: F403 - the real package exports its constants the same way
from ._queries import (
    history_deals_get,
    history_deals_total,
    history_orders_get,
    history_orders_total,
    orders_get,
    orders_total,
    positions_get,
    positions_total,
)
from ._session import (
    account_info,
    initialize,
    last_error,
    login,
    shutdown,
    terminal_info,
    version,
)
from ._symbols import (
    order_calc_margin,
    order_calc_profit,
    symbol_info,
    symbol_info_tick,
    symbol_select,
    symbols_get,
    symbols_total,
)
from ._trading import order_check, order_send
from ._unsupported import (
    copy_rates_from,
    copy_rates_from_pos,
    copy_rates_range,
    copy_ticks_from,
    copy_ticks_range,
    market_book_add,
    market_book_get,
    market_book_release,
)

__author__ = "MetaQuotes Ltd. (simulated by switchyard)"
__version__ = "5.0.4874"

__all__ = [
    "_sim",
    "account_info",
    "copy_rates_from",
    "copy_rates_from_pos",
    "copy_rates_range",
    "copy_ticks_from",
    "copy_ticks_range",
    "history_deals_get",
    "history_deals_total",
    "history_orders_get",
    "history_orders_total",
    "initialize",
    "last_error",
    "login",
    "market_book_add",
    "market_book_get",
    "market_book_release",
    "order_calc_margin",
    "order_calc_profit",
    "order_check",
    "order_send",
    "orders_get",
    "orders_total",
    "positions_get",
    "positions_total",
    "shutdown",
    "symbol_info",
    "symbol_info_tick",
    "symbol_select",
    "symbols_get",
    "symbols_total",
    "terminal_info",
    "version",
]
