"""What an order, a close and a cancel become for ccxt, before anything is sent.

Pure: a market (ccxt's unified form), the exchange's `Profile` and the request in, a
`Prepared` request or a `Refusal` that says which of the market's rules it breaks out.
The session (`adapter`) finds the market and checks that the key may trade; this module
never talks to the exchange.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from switchyard.domain import ClientOrderId, ErrorCode, OrderPayload, OrderType, Side
from worker.venue import OrderStatusReport, PositionReport, Prepared, Refusal
from worker.venues.exchange import reports
from worker.venues.exchange.profile import Profile, Unified

#: Where an exchange order may carry a stop loss and take profit, for every refusal.
STOPS_OFFERED: Final = (
    "stop loss and take profit are offered on Bybit and OKX USDT perpetuals "
    "(BTC/USDT:USDT), with the order that opens the position"
)


#: Where switchyard changes an open position's stops, for the refusal elsewhere.
STOPS_CHANGED: Final = "the stops of open Bybit and OKX USDT perpetual positions are changed"


def unsupported(payload: OrderPayload) -> Refusal | None:
    """What no exchange account is offered, whatever the market."""
    if payload.type is OrderType.STOP:
        return Refusal(
            code=ErrorCode.INVALID_REQUEST,
            message="stop orders are not offered on exchange accounts: market or limit",
        )
    return None


def takes_stops(market: Unified, profile: Profile) -> bool:
    """Whether an order on `market` may carry a stop loss and take profit."""
    return bool(market.get("contract")) and profile.attached_stops


def needs_reference(market: Unified, payload: OrderPayload, profile: Profile) -> bool:
    """Whether the stops of `payload` are checked against the price now (a market order's:
    a limit order's are checked against its own price)."""
    wanted = payload.sl is not None or payload.tp is not None
    return wanted and payload.price is None and takes_stops(market, profile)


def reference_price(ticker: Unified) -> Decimal | None:
    """The price a market order's stops are judged by: the last trade (what Bybit and OKX
    trigger on), else the middle of the book."""
    last = reports.dec(ticker.get("last"))
    bid, ask = reports.dec(ticker.get("bid")), reports.dec(ticker.get("ask"))
    return last or ((bid + ask) / 2 if bid and ask else bid or ask)


def _stops_refusal(
    market: Unified, payload: OrderPayload, profile: Profile, reference: Decimal | None
) -> Refusal | None:
    """A stop loss below and a take profit above a buy's entry (the reverse for a sell),
    each on the market's price grid; only where the exchange takes them."""
    if payload.sl is None and payload.tp is None:
        return None
    symbol = market["symbol"]
    if not market.get("contract"):
        where = f"{symbol} is a spot market, which switchyard places no stops on"
    elif not profile.attached_stops:
        where = f"switchyard places no stops on {profile.noun}"
    else:
        where = None
    if where is not None:
        return Refusal(code=ErrorCode.INVALID_STOPS, message=f"{where}: {STOPS_OFFERED}")
    entry = payload.price if payload.price is not None else reference
    return _stops_misplaced(market, payload.side, payload.sl, payload.tp, entry, profile)


def _stops_misplaced(
    market: Unified,
    side: Side,
    sl: Decimal | None,
    tp: Decimal | None,
    entry: Decimal | None,
    profile: Profile,
    *,
    against: str = "the entry price",
) -> Refusal | None:
    """Stops off the market's tick, or on the wrong side of `entry` for a position of
    `side` (`against` names that price in the message)."""
    symbol = market["symbol"]
    tick = reports.dec((market.get("precision") or {}).get("price"))
    for name, price in (("stop loss", sl), ("take profit", tp)):
        if price is not None and (price <= 0 or (tick and price % tick != 0)):
            return Refusal(
                code=ErrorCode.INVALID_STOPS,
                message=f"the {name} {price} is not a price of {symbol}, which takes prices "
                f"in steps of {tick}",
            )
    if entry is None:
        return Refusal(
            code=ErrorCode.INVALID_STOPS,
            message=f"{profile.noun} has no price for {symbol} now to check the stops "
            "against; nothing was sent",
        )
    buy = side is Side.BUY
    what = "a buy" if buy else "a sell"
    if sl is not None and (sl >= entry if buy else sl <= entry):
        return Refusal(
            code=ErrorCode.INVALID_STOPS,
            message=f"the stop loss {sl} of {what} must be {'below' if buy else 'above'} "
            f"{against} ({reports.plain(entry)} on {symbol})",
        )
    if tp is not None and (tp <= entry if buy else tp >= entry):
        return Refusal(
            code=ErrorCode.INVALID_STOPS,
            message=f"the take profit {tp} of {what} must be {'above' if buy else 'below'} "
            f"{against} ({reports.plain(entry)} on {symbol})",
        )
    return None


def _stop_params(payload: OrderPayload) -> dict[str, Any]:
    """ccxt's unified attached stops: Bybit's `stopLoss`/`takeProfit`, OKX's
    `attachAlgoOrds` (`slTriggerPx`/`tpTriggerPx`, `slOrdPx`/`tpOrdPx` -1: at market)."""
    params: dict[str, Any] = {}
    if payload.sl is not None:
        params["stopLoss"] = {"triggerPrice": float(payload.sl)}
    if payload.tp is not None:
        params["takeProfit"] = {"triggerPrice": float(payload.tp)}
    return params


def amount(market: Unified, volume: Decimal) -> Decimal | Refusal:
    """`volume` (base currency) as the market's amount, if the market allows it."""
    size = reports.contract_size(market)
    units = volume / size
    step = reports.dec((market.get("precision") or {}).get("amount"))
    base = market.get("base")
    if step and units % step != 0:
        return Refusal(
            code=ErrorCode.INVALID_VOLUME,
            message=f"{market['symbol']} takes volumes in steps of {step * size} {base}",
        )
    minimum = reports.dec(((market.get("limits") or {}).get("amount") or {}).get("min"))
    if minimum and units < minimum:
        return Refusal(
            code=ErrorCode.INVALID_VOLUME,
            message=f"{market['symbol']} takes at least {minimum * size} {base}",
        )
    return units


def _price_refusal(market: Unified, payload: OrderPayload) -> Refusal | None:
    if payload.price is None:
        return None
    tick = reports.dec((market.get("precision") or {}).get("price"))
    if tick and payload.price % tick != 0:
        return Refusal(
            code=ErrorCode.INVALID_PRICE,
            message=f"{market['symbol']} takes prices in steps of {tick}",
        )
    least = reports.dec(((market.get("limits") or {}).get("cost") or {}).get("min"))
    if least and payload.price * payload.volume < least:
        return Refusal(
            code=ErrorCode.INVALID_VOLUME,
            message=f"{market['symbol']} takes orders worth at least {least} {market.get('quote')}",
        )
    return None


def _leverage_refusal(market: Unified, leverage: int, profile: Profile) -> Refusal | None:
    """Leverage is a perpetual's: never silently dropped where it cannot be set."""
    symbol = market["symbol"]
    if not market.get("contract"):
        return Refusal(
            code=ErrorCode.INVALID_REQUEST,
            message=f"{symbol} is a spot market: an order there spends only what it costs "
            "and takes no leverage. Leave leverage out, or trade the perpetual "
            f"({market.get('base')}/{market.get('quote')}:{market.get('quote')})",
        )
    if profile.set_leverage is None:
        return Refusal(
            code=ErrorCode.INVALID_REQUEST,
            message=f"switchyard does not set leverage on {profile.noun}",
        )
    most = reports.dec(((market.get("limits") or {}).get("leverage") or {}).get("max"))
    if most and leverage > most:
        return Refusal(
            code=ErrorCode.INVALID_REQUEST,
            message=f"{symbol} takes leverage up to {most.normalize():f} on {profile.noun}, "
            f"not {leverage}",
        )
    return None


def open_order(
    market: Unified,
    payload: OrderPayload,
    coid: ClientOrderId,
    profile: Profile,
    reference: Decimal | None = None,
) -> Prepared | Refusal:
    """A market or limit order on `market`, carrying the job's client order id (and the
    leverage to set first, and the stops, on a perpetual). `reference`: the price now,
    which a market order's stops are checked against."""
    leverage = payload.leverage
    if leverage is not None and (refused := _leverage_refusal(market, leverage, profile)):
        return refused
    units = amount(market, payload.volume)
    if isinstance(units, Refusal):
        return units
    if (refusal := _price_refusal(market, payload)) is not None:
        return refusal
    if (refusal := _stops_refusal(market, payload, profile, reference)) is not None:
        return refusal
    extra = profile.order_params(payload.type.value, payload.side.value, f"{units:f}")
    return Prepared(
        client_order_id=coid,
        action="open",
        done="filled" if payload.type is OrderType.MARKET else "placed",
        symbol=market["symbol"],
        side=payload.side.value,
        order_type=payload.type.value,
        volume=payload.volume,
        price=payload.price,
        sl=payload.sl,
        tp=payload.tp,
        leverage=payload.leverage,
        request={
            "symbol": market["symbol"],
            "type": payload.type.value,
            "side": payload.side.value,
            "amount": float(units),
            "price": None if payload.price is None else float(payload.price),
            "params": {
                profile.client_id_param: profile.client_ids.of(coid),
                **extra,
                **_stop_params(payload),
            },
        },
    )


def close_position(
    market: Unified,
    position: PositionReport,
    volume: Decimal,
    coid: ClientOrderId,
    profile: Profile,
) -> Prepared | Refusal:
    """A reduce-only market order against a perpetual position, with the close job's id."""
    if not market.get("contract"):
        return Refusal(
            code=ErrorCode.INVALID_REQUEST,
            message=f"{position.venue_position_id} is not a perpetual market",
        )
    units = amount(market, volume)
    if isinstance(units, Refusal):
        return units
    side = "sell" if position.side.value == "buy" else "buy"
    return Prepared(
        client_order_id=coid,
        action="close",
        done="closed",
        symbol=market["symbol"],
        side=side,
        order_type="market",
        volume=volume,
        target=position.venue_position_id,
        request={
            "symbol": market["symbol"],
            "type": "market",
            "side": side,
            "amount": float(units),
            "price": None,
            "params": {
                profile.client_id_param: profile.client_ids.of(coid),
                **profile.reduce_only,
            },
        },
    )


def modify_position(
    market: Unified,
    position: PositionReport,
    stops: tuple[Decimal | None, Decimal | None],
    coid: ClientOrderId,
    profile: Profile,
    reference: Decimal | None,
) -> Prepared | Refusal:
    """New stops of an open perpetual position, checked against the price now
    (`reference`), where the exchange changes them (Bybit's trading-stop, OKX's TP/SL algo
    order); `stops` are the whole position's (one not asked for is the position's own)."""
    if not market.get("contract") or profile.set_position_stops is None:
        return Refusal(
            code=ErrorCode.INVALID_REQUEST,
            message=f"switchyard does not change the stops of an open {profile.noun} "
            f"position on {market['symbol']} ({STOPS_CHANGED}): close it and open it again "
            "with sl/tp",
        )
    sl, tp = stops
    if (refusal := _new_leg_refusal(position, sl, tp, profile)) is not None:
        return refusal
    misplaced = _stops_misplaced(
        market, position.side, sl, tp, reference, profile, against="the price now"
    )
    if misplaced is not None:
        return misplaced
    return Prepared(
        client_order_id=coid,
        action="modify",
        done="modified",
        symbol=market["symbol"],
        side=position.side.value,
        volume=position.volume,
        sl=sl,
        tp=tp,
        target=position.venue_position_id,
        request={
            "symbol": market["symbol"],
            "stops": {
                "side": position.side.value,
                "sl": None if sl is None else f"{sl:f}",
                "tp": None if tp is None else f"{tp:f}",
                "client_id": profile.client_ids.of(coid),
            },
        },
    )


def _new_leg_refusal(
    position: PositionReport, sl: Decimal | None, tp: Decimal | None, profile: Profile
) -> Refusal | None:
    """A stop added beside the other where the exchange only amends the legs it has (OKX:
    a TP/SL algo order takes no new leg, 51526); a position with none gets both at once."""
    if profile.adds_stop_legs or (position.sl is None and position.tp is None):
        return None
    for name, held, wanted in (("stop loss", position.sl, sl), ("take profit", position.tp, tp)):
        if held is None and wanted is not None:
            return Refusal(
                code=ErrorCode.INVALID_STOPS,
                message=f"{profile.noun} keeps this position's stops as one TP/SL order, to "
                f"which a {name} cannot be added; nothing was sent. Change the stop it has, "
                f"or close the position and open it again with both",
            )
    return None


def cancel(order: OrderStatusReport, coid: ClientOrderId) -> Prepared:
    """The cancel of an order found through our id (`<exchange id>_<market key>`)."""
    parts = reports.split_order_id(order.venue_order_id)
    assert parts is not None  # the order was found through the same id
    return Prepared(
        client_order_id=coid,
        action="cancel",
        done="cancelled",
        symbol=order.symbol,
        volume=order.leaves,
        price=order.price,
        target=order.venue_order_id,
        request={"cancel": parts[0], "symbol": order.symbol},
    )
