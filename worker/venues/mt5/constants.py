"""The MetaTrader 5 API's numbers that the worker uses, with their real values.

The real package is Windows-only, so the worker cannot import its constants; these
are copied from the MetaTrader 5 documentation (the simulator uses the same values).
"""

from __future__ import annotations

from typing import Final

from worker.venue import Entry

TRADE_ACTION_DEAL: Final = 1
TRADE_ACTION_PENDING: Final = 5
TRADE_ACTION_SLTP: Final = 6
TRADE_ACTION_MODIFY: Final = 7
TRADE_ACTION_REMOVE: Final = 8

ORDER_TYPE_BUY: Final = 0
ORDER_TYPE_SELL: Final = 1
ORDER_TYPE_BUY_LIMIT: Final = 2
ORDER_TYPE_SELL_LIMIT: Final = 3
ORDER_TYPE_BUY_STOP: Final = 4
ORDER_TYPE_SELL_STOP: Final = 5

ORDER_FILLING_FOK: Final = 0
ORDER_FILLING_IOC: Final = 1
ORDER_FILLING_RETURN: Final = 2
ORDER_TIME_GTC: Final = 0

#: Bits of `SymbolInfo.filling_mode`: which fillings a market order may use.
SYMBOL_FILLING_FOK: Final = 1
SYMBOL_FILLING_IOC: Final = 2

POSITION_TYPE_BUY: Final = 0
POSITION_TYPE_SELL: Final = 1

DEAL_TYPE_BUY: Final = 0
DEAL_TYPE_SELL: Final = 1
DEAL_ENTRY_NAMES: Final[dict[int, Entry]] = {0: "in", 1: "out", 2: "inout", 3: "out_by"}

#: `last_error()` codes (RES_*).
RES_S_OK: Final = 1
RES_E_AUTH_FAILED: Final = -6
RES_E_INVALID_PARAMS: Final = -2

#: Pending order types by (side, kind).
PENDING_TYPES: Final[dict[tuple[str, str], int]] = {
    ("buy", "limit"): ORDER_TYPE_BUY_LIMIT,
    ("sell", "limit"): ORDER_TYPE_SELL_LIMIT,
    ("buy", "stop"): ORDER_TYPE_BUY_STOP,
    ("sell", "stop"): ORDER_TYPE_SELL_STOP,
}
