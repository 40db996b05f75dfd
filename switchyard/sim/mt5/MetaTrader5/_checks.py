"""Server-side checks of a trade request; each failure is a real TRADE_RETCODE_*."""

from typing import Final

from ._book import BUY_ORDER_TYPES, Book
from ._constants import (
    ORDER_FILLING_FOK,
    ORDER_FILLING_IOC,
    ORDER_FILLING_RETURN,
    ORDER_TIME_SPECIFIED,
    ORDER_TIME_SPECIFIED_DAY,
    ORDER_TYPE_BUY,
    ORDER_TYPE_BUY_LIMIT,
    ORDER_TYPE_BUY_STOP,
    ORDER_TYPE_BUY_STOP_LIMIT,
    ORDER_TYPE_SELL,
    ORDER_TYPE_SELL_LIMIT,
    ORDER_TYPE_SELL_STOP,
    ORDER_TYPE_SELL_STOP_LIMIT,
    TRADE_ACTION_DEAL,
    TRADE_ACTION_MODIFY,
    TRADE_ACTION_PENDING,
    TRADE_ACTION_REMOVE,
    TRADE_ACTION_SLTP,
    TRADE_RETCODE_CLIENT_DISABLES_AT,
    TRADE_RETCODE_CONNECTION,
    TRADE_RETCODE_DONE,
    TRADE_RETCODE_INVALID,
    TRADE_RETCODE_INVALID_CLOSE_VOLUME,
    TRADE_RETCODE_INVALID_EXPIRATION,
    TRADE_RETCODE_INVALID_FILL,
    TRADE_RETCODE_INVALID_ORDER,
    TRADE_RETCODE_INVALID_PRICE,
    TRADE_RETCODE_INVALID_STOPS,
    TRADE_RETCODE_INVALID_VOLUME,
    TRADE_RETCODE_MARKET_CLOSED,
    TRADE_RETCODE_NO_CHANGES,
    TRADE_RETCODE_NO_MONEY,
    TRADE_RETCODE_POSITION_CLOSED,
    TRADE_RETCODE_REJECT,
    TRADE_RETCODE_REQUOTE,
    TRADE_RETCODE_TIMEOUT,
    TRADE_RETCODE_TRADE_DISABLED,
)
from ._market import FILLING_FOK_BIT, FILLING_IOC_BIT, SYMBOL_FILLING_MODE, SymbolSpec
from ._state import Terminal
from ._trade_types import TradeRequest

OK: Final = 0

#: The comment the trade server puts on a result with this retcode.
RETCODE_COMMENTS: Final[dict[int, str]] = {
    TRADE_RETCODE_REQUOTE: "Requote",
    TRADE_RETCODE_REJECT: "Request rejected",
    TRADE_RETCODE_DONE: "Request executed",
    TRADE_RETCODE_TIMEOUT: "Request timed out",
    TRADE_RETCODE_INVALID: "Invalid request",
    TRADE_RETCODE_INVALID_VOLUME: "Invalid volume",
    TRADE_RETCODE_INVALID_PRICE: "Invalid price",
    TRADE_RETCODE_INVALID_STOPS: "Invalid stops",
    TRADE_RETCODE_TRADE_DISABLED: "Trade disabled",
    TRADE_RETCODE_MARKET_CLOSED: "Market closed",
    TRADE_RETCODE_NO_MONEY: "No money",
    TRADE_RETCODE_INVALID_EXPIRATION: "Invalid expiration",
    TRADE_RETCODE_NO_CHANGES: "No changes",
    TRADE_RETCODE_CLIENT_DISABLES_AT: "AutoTrading disabled by client",
    TRADE_RETCODE_INVALID_FILL: "Unsupported filling mode",
    TRADE_RETCODE_CONNECTION: "No connection",
    TRADE_RETCODE_INVALID_ORDER: "Invalid order type",
    TRADE_RETCODE_POSITION_CLOSED: "Position doesn't exist",
    TRADE_RETCODE_INVALID_CLOSE_VOLUME: "Invalid close volume",
}

PENDING_TYPES: Final = frozenset(
    {
        ORDER_TYPE_BUY_LIMIT,
        ORDER_TYPE_SELL_LIMIT,
        ORDER_TYPE_BUY_STOP,
        ORDER_TYPE_SELL_STOP,
        ORDER_TYPE_BUY_STOP_LIMIT,
        ORDER_TYPE_SELL_STOP_LIMIT,
    }
)
STOP_LIMIT_TYPES: Final = frozenset({ORDER_TYPE_BUY_STOP_LIMIT, ORDER_TYPE_SELL_STOP_LIMIT})
_EPS: Final = 1e-9


def comment_for(retcode: int) -> str:
    return RETCODE_COMMENTS.get(retcode, f"Retcode {retcode}")


def volume_ok(spec: SymbolSpec, volume: float) -> bool:
    if volume < spec.volume_min - _EPS or volume > spec.volume_max + _EPS:
        return False
    steps = volume / spec.volume_step
    return abs(steps - round(steps)) < 1e-6


def stops_ok(is_buy: bool, reference: float, sl: float, tp: float) -> bool:
    """SL below and TP above ``reference`` for a buy, the other way round for a sell."""
    if is_buy:
        return not (sl and sl >= reference) and not (tp and tp <= reference)
    return not (sl and sl <= reference) and not (tp and tp >= reference)


def pending_price_ok(
    order_type: int, price: float, stoplimit: float, bid: float, ask: float
) -> bool:
    if price <= 0:
        return False
    if order_type == ORDER_TYPE_BUY_LIMIT:
        return price < ask
    if order_type == ORDER_TYPE_SELL_LIMIT:
        return price > bid
    if order_type == ORDER_TYPE_BUY_STOP:
        return price > ask
    if order_type == ORDER_TYPE_SELL_STOP:
        return price < bid
    if order_type == ORDER_TYPE_BUY_STOP_LIMIT:
        return price > ask and 0 < stoplimit < price
    return price < bid and stoplimit > price  # ORDER_TYPE_SELL_STOP_LIMIT


def validate(t: Terminal, book: Book, req: TradeRequest) -> int:
    """OK (0) when ``req`` may execute on ``book``, else the retcode refusing it."""
    if t.faults.autotrading_disabled:
        return TRADE_RETCODE_CLIENT_DISABLES_AT
    if not book.account.trade_allowed:
        return TRADE_RETCODE_TRADE_DISABLED
    checks = {
        TRADE_ACTION_DEAL: _deal,
        TRADE_ACTION_PENDING: _pending,
        TRADE_ACTION_SLTP: _sltp,
        TRADE_ACTION_MODIFY: _modify,
        TRADE_ACTION_REMOVE: _remove,
    }
    check = checks.get(req.action)
    return TRADE_RETCODE_INVALID if check is None else check(t, book, req)


def _filling_ok(spec_filling: int, type_filling: int) -> bool:
    if type_filling == ORDER_FILLING_FOK:
        return bool(spec_filling & FILLING_FOK_BIT)
    if type_filling == ORDER_FILLING_IOC:
        return bool(spec_filling & FILLING_IOC_BIT)
    return type_filling == ORDER_FILLING_RETURN


def _deal(t: Terminal, book: Book, req: TradeRequest) -> int:
    pos = book.positions.get(req.position) if req.position else None
    if req.position and pos is None:
        return TRADE_RETCODE_POSITION_CLOSED
    symbol = pos.symbol if pos is not None else req.symbol
    spec = t.market.spec(symbol)
    if spec is None or (pos is not None and req.symbol not in ("", pos.symbol)):
        return TRADE_RETCODE_INVALID
    if req.type not in (ORDER_TYPE_BUY, ORDER_TYPE_SELL):
        return TRADE_RETCODE_INVALID_ORDER
    is_buy = req.type == ORDER_TYPE_BUY
    if pos is not None and is_buy == pos.is_buy:
        return TRADE_RETCODE_INVALID
    if not volume_ok(spec, req.volume):
        return TRADE_RETCODE_INVALID_VOLUME
    if pos is not None and req.volume > pos.volume + _EPS:
        return TRADE_RETCODE_INVALID_CLOSE_VOLUME
    if not t.market.is_open(spec.name):
        return TRADE_RETCODE_MARKET_CLOSED
    if not _filling_ok(SYMBOL_FILLING_MODE, req.type_filling):
        return TRADE_RETCODE_INVALID_FILL
    if pos is not None:
        return OK
    bid, ask = t.market.quote(spec.name)
    if not stops_ok(is_buy, bid if is_buy else ask, req.sl, req.tp):
        return TRADE_RETCODE_INVALID_STOPS
    price = ask if is_buy else bid
    needed = t.market.margin(
        spec.name, req.volume, price, book.account.leverage, book.account.currency
    )
    if needed > book.free_margin(t.market) + _EPS:
        return TRADE_RETCODE_NO_MONEY
    return OK


def _pending(t: Terminal, book: Book, req: TradeRequest) -> int:
    spec = t.market.spec(req.symbol)
    if spec is None:
        return TRADE_RETCODE_INVALID
    if req.type not in PENDING_TYPES:
        return TRADE_RETCODE_INVALID_ORDER
    if not volume_ok(spec, req.volume):
        return TRADE_RETCODE_INVALID_VOLUME
    if not t.market.is_open(spec.name):
        return TRADE_RETCODE_MARKET_CLOSED
    bid, ask = t.market.quote(spec.name)
    if not pending_price_ok(req.type, req.price, req.stoplimit, bid, ask):
        return TRADE_RETCODE_INVALID_PRICE
    entry = req.stoplimit if req.type in STOP_LIMIT_TYPES else req.price
    if not stops_ok(req.type in BUY_ORDER_TYPES, entry, req.sl, req.tp):
        return TRADE_RETCODE_INVALID_STOPS
    if not _expiration_ok(t, req):
        return TRADE_RETCODE_INVALID_EXPIRATION
    return OK


def _expiration_ok(t: Terminal, req: TradeRequest) -> bool:
    timed = req.type_time in (ORDER_TIME_SPECIFIED, ORDER_TIME_SPECIFIED_DAY)
    return not timed or req.expiration > t.clock.now_ms() // 1000


def _sltp(t: Terminal, book: Book, req: TradeRequest) -> int:
    pos = book.positions.get(req.position)
    if pos is None:
        return TRADE_RETCODE_POSITION_CLOSED
    if req.symbol not in ("", pos.symbol):
        return TRADE_RETCODE_INVALID
    if not t.market.is_open(pos.symbol):
        return TRADE_RETCODE_MARKET_CLOSED
    bid, ask = t.market.quote(pos.symbol)
    if not stops_ok(pos.is_buy, bid if pos.is_buy else ask, req.sl, req.tp):
        return TRADE_RETCODE_INVALID_STOPS
    if (req.sl, req.tp) == (pos.sl, pos.tp):
        return TRADE_RETCODE_NO_CHANGES
    return OK


def _modify(t: Terminal, book: Book, req: TradeRequest) -> int:
    order = book.orders.get(req.order)
    if order is None:
        return TRADE_RETCODE_INVALID
    if not t.market.is_open(order.symbol):
        return TRADE_RETCODE_MARKET_CLOSED
    bid, ask = t.market.quote(order.symbol)
    stoplimit = req.stoplimit if order.type in STOP_LIMIT_TYPES else 0.0
    if not pending_price_ok(order.type, req.price, stoplimit, bid, ask):
        return TRADE_RETCODE_INVALID_PRICE
    entry = stoplimit if order.type in STOP_LIMIT_TYPES else req.price
    if not stops_ok(order.is_buy, entry, req.sl, req.tp):
        return TRADE_RETCODE_INVALID_STOPS
    if not _expiration_ok(t, req):
        return TRADE_RETCODE_INVALID_EXPIRATION
    if (req.price, req.sl, req.tp, stoplimit) == (order.price, order.sl, order.tp, order.stoplimit):
        return TRADE_RETCODE_NO_CHANGES
    return OK


def _remove(t: Terminal, book: Book, req: TradeRequest) -> int:
    return OK if req.order in book.orders else TRADE_RETCODE_INVALID
