"""A perpetual position's stop loss and take profit, attached by the order that opened it.

Bybit (``stopLoss``/``takeProfit`` on /v5/order/create, tpslMode Full) and OKX
(``attachAlgoOrds`` with ``slTriggerPx``/``tpTriggerPx``, ``slOrdPx``/``tpOrdPx`` -1:
at market) both take them with the order; the venue modules check the side against their
own reference price and answer with their own codes. Once the order fills, the stops are
the position's (a later order's replace them, a flat position drops them), and each
``sweep()`` closes a position whose stop the last (mid) price reached, at market, reduce
only, as both venues trigger on the last price by default.
"""

from decimal import Decimal
from typing import Literal

from .instruments import Instrument, on_step
from .orders import Attached, Side

#: Which stop an attached price, or a triggered close, is.
Which = Literal["sl", "tp"]


def wrong_side(side: Side, stops: Attached, reference: Decimal) -> Which | None:
    """The stop on the wrong side of ``reference`` for an order of ``side``, if any: a buy's
    stop loss must be below and its take profit above; a sell's the reverse."""
    buy = side is Side.BUY
    if stops.sl is not None and (stops.sl >= reference if buy else stops.sl <= reference):
        return "sl"
    if stops.tp is not None and (stops.tp <= reference if buy else stops.tp >= reference):
        return "tp"
    return None


def off_tick(instrument: Instrument, stops: Attached) -> Which | None:
    """The stop that is not a positive multiple of the instrument's tick, if any."""
    if stops.sl is not None and (stops.sl <= 0 or not on_step(stops.sl, instrument.tick)):
        return "sl"
    if stops.tp is not None and (stops.tp <= 0 or not on_step(stops.tp, instrument.tick)):
        return "tp"
    return None


def reached(long: bool, sl: Decimal | None, tp: Decimal | None, last: Decimal) -> Which | None:
    """The stop the last price reached on a long (``long``) or a short position."""
    if sl is not None and (last <= sl if long else last >= sl):
        return "sl"
    if tp is not None and (last >= tp if long else last <= tp):
        return "tp"
    return None
