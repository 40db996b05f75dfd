"""Trade requests as the terminal takes them (plain dicts of int, float and str)."""

from __future__ import annotations

from decimal import Decimal

from switchyard.domain import ClientOrderId, OrderPayload, OrderType, Side
from worker.venue import OrderStatusReport, PositionReport
from worker.venues.mt5.constants import (
    ORDER_FILLING_FOK,
    ORDER_FILLING_IOC,
    ORDER_FILLING_RETURN,
    ORDER_TIME_GTC,
    ORDER_TYPE_BUY,
    ORDER_TYPE_SELL,
    PENDING_TYPES,
    SYMBOL_FILLING_FOK,
    SYMBOL_FILLING_IOC,
    TRADE_ACTION_DEAL,
    TRADE_ACTION_MODIFY,
    TRADE_ACTION_PENDING,
    TRADE_ACTION_REMOVE,
    TRADE_ACTION_SLTP,
)
from worker.venues.mt5.parsing import SymbolInfo, Tick

Request = dict[str, int | float | str]


def _f(value: Decimal | None) -> float:
    """MT5 takes floats; 0.0 means "none" for SL and TP."""
    return 0.0 if value is None else float(value)


def market_filling(symbol: SymbolInfo) -> int:
    """The filling a market order of this symbol may use (IOC, else FOK, else RETURN)."""
    if symbol.filling_mode & SYMBOL_FILLING_IOC:
        return ORDER_FILLING_IOC
    if symbol.filling_mode & SYMBOL_FILLING_FOK:
        return ORDER_FILLING_FOK
    return ORDER_FILLING_RETURN


def open_request(
    payload: OrderPayload, symbol: SymbolInfo, tick: Tick, magic: int, coid: ClientOrderId
) -> Request:
    common: Request = {
        "symbol": payload.symbol,
        "volume": float(payload.volume),
        "sl": _f(payload.sl),
        "tp": _f(payload.tp),
        "deviation": payload.deviation,
        "magic": magic,
        "comment": coid,
        "type_time": ORDER_TIME_GTC,
    }
    if payload.type is OrderType.MARKET:
        buy = payload.side is Side.BUY
        return {
            **common,
            "action": TRADE_ACTION_DEAL,
            "type": ORDER_TYPE_BUY if buy else ORDER_TYPE_SELL,
            "price": float(tick.ask if buy else tick.bid),
            "type_filling": market_filling(symbol),
        }
    assert payload.price is not None  # the payload model guarantees it
    return {
        **common,
        "action": TRADE_ACTION_PENDING,
        "type": PENDING_TYPES[(payload.side.value, payload.type.value)],
        "price": float(payload.price),
        "type_filling": ORDER_FILLING_RETURN,
    }


def close_request(
    position: PositionReport,
    volume: Decimal,
    symbol: SymbolInfo,
    tick: Tick,
    deviation: int,
    magic: int,
    coid: ClientOrderId,
) -> Request:
    long = position.side is Side.BUY
    return {
        "action": TRADE_ACTION_DEAL,
        "position": int(position.venue_position_id),
        "symbol": position.symbol,
        "volume": float(volume),
        "type": ORDER_TYPE_SELL if long else ORDER_TYPE_BUY,
        "price": float(tick.bid if long else tick.ask),
        "deviation": deviation,
        "magic": magic,
        "comment": coid,
        "type_time": ORDER_TIME_GTC,
        "type_filling": market_filling(symbol),
    }


def sltp_request(
    position: PositionReport,
    sl: Decimal | None,
    tp: Decimal | None,
    magic: int,
    coid: ClientOrderId,
) -> Request:
    return {
        "action": TRADE_ACTION_SLTP,
        "position": int(position.venue_position_id),
        "symbol": position.symbol,
        "sl": _f(sl),
        "tp": _f(tp),
        "magic": magic,
        "comment": coid,
    }


def modify_order_request(
    order: OrderStatusReport,
    price: Decimal,
    sl: Decimal | None,
    tp: Decimal | None,
    magic: int,
    coid: ClientOrderId,
) -> Request:
    return {
        "action": TRADE_ACTION_MODIFY,
        "order": int(order.venue_order_id),
        "symbol": order.symbol,
        "price": float(price),
        "sl": _f(sl),
        "tp": _f(tp),
        "type_time": ORDER_TIME_GTC,
        "magic": magic,
        "comment": coid,
    }


def remove_request(order: OrderStatusReport, magic: int, coid: ClientOrderId) -> Request:
    return {
        "action": TRADE_ACTION_REMOVE,
        "order": int(order.venue_order_id),
        "magic": magic,
        "comment": coid,
    }
