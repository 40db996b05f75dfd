"""OKX's attached TP/SL: ``attachAlgoOrds`` on an order, and the algo order it becomes.

ccxt's unified ``stopLoss``/``takeProfit`` params reach OKX as one ``attachAlgoOrds``
entry: ``slTriggerPx``/``tpTriggerPx``, ``slOrdPx``/``tpOrdPx`` ``-1`` (at market) and
``...TriggerPxType`` ``last``. OKX checks each trigger price against the order price of a
limit order (51046-51049) or the best ask / bid of a market order (51050-51053). Once the
order fills, the stops are a pending algo order (``oco`` with both, ``conditional`` with
one) that ``GET /api/v5/trade/orders-algo-pending`` lists, until it triggers or the
position is closed.
"""

from decimal import Decimal
from typing import Any, Final

from .engine import Engine
from .instruments import Instrument
from .orders import Attached, OrderRequest, OrderType, Side
from .stops import off_tick, wrong_side
from .venue import text, to_decimal
from .wallet import Position

#: (code, message) per (side, stop, market order?) on the wrong side of the reference.
_HIGHER, _LOWER = "must be higher than the", "must be lower than the"
WRONG_SIDE: Final[dict[tuple[Side, str, bool], tuple[str, str]]] = {
    (Side.BUY, "tp", False): ("51046", f"The take profit trigger price {_HIGHER} order price."),
    (Side.BUY, "sl", False): ("51047", f"The stop loss trigger price {_LOWER} order price."),
    (Side.SELL, "tp", False): ("51048", f"The take profit trigger price {_LOWER} order price."),
    (Side.SELL, "sl", False): ("51049", f"The stop loss trigger price {_HIGHER} order price."),
    (Side.BUY, "tp", True): ("51050", f"The take profit trigger price {_HIGHER} best ask price."),
    (Side.BUY, "sl", True): ("51051", f"The stop loss trigger price {_LOWER} best ask price."),
    (Side.SELL, "tp", True): ("51052", f"The take profit trigger price {_LOWER} best bid price."),
    (Side.SELL, "sl", True): ("51053", f"The stop loss trigger price {_HIGHER} best bid price."),
}
TRIGGER_TYPES: Final = ("", "last", "index", "mark")


class StopRefused(Exception):  # noqa: N818 - OKX's answer, not a failure
    """An ``attachAlgoOrds`` entry OKX refuses: its sCode and sMsg."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def _price(entry: dict[str, Any], field: str) -> Decimal | None:
    raw = entry.get(field)
    if raw in (None, ""):
        return None
    value = to_decimal(raw)
    if value is None:
        raise StopRefused("51000", f"Parameter {field} error")
    return value


def attached(entry: dict[str, Any], instrument: Instrument) -> Attached:
    """The stops of one order entry (none without ``attachAlgoOrds``); StopRefused 51000
    names a malformed field."""
    algos = entry.get("attachAlgoOrds")
    if algos in (None, []):
        return Attached()
    if not isinstance(algos, list) or len(algos) != 1 or not isinstance(algos[0], dict):
        raise StopRefused("51000", "Parameter attachAlgoOrds error")
    if not instrument.linear:
        raise StopRefused("51000", "Parameter attachAlgoOrds error: simulated on swaps only")
    algo: dict[str, Any] = algos[0]
    sl, tp = _price(algo, "slTriggerPx"), _price(algo, "tpTriggerPx")
    for which, price in (("sl", sl), ("tp", tp)):
        if price is not None and str(algo.get(f"{which}OrdPx")) != "-1":
            raise StopRefused("51000", f"Parameter {which}OrdPx error: only -1 is simulated")
        if str(algo.get(f"{which}TriggerPxType") or "") not in TRIGGER_TYPES:
            raise StopRefused("51000", f"Parameter {which}TriggerPxType error")
    return Attached(sl=sl, tp=tp)


def check(engine: Engine, order: OrderRequest) -> None:
    """On the tick, and on the right side of the order price or the best ask / bid."""
    stops = order.stops
    if (which := off_tick(order.instrument, stops)) is not None:
        raise StopRefused("51000", f"Parameter {which}TriggerPx error")
    market = order.type is OrderType.MARKET or order.price is None
    if market:
        quote = engine.feed.quote(order.instrument)
        reference = quote.ask if order.side is Side.BUY else quote.bid
    else:
        assert order.price is not None
        reference = order.price
    which = wrong_side(order.side, stops, reference)
    if which is not None:
        raise StopRefused(*WRONG_SIDE[(order.side, which, market)])


def _leg(which: str, price: Decimal | None) -> dict[str, str]:
    if price is None:
        return {f"{which}OrdPx": "", f"{which}TriggerPx": "", f"{which}TriggerPxType": ""}
    trigger = text(price)
    return {f"{which}OrdPx": "-1", f"{which}TriggerPx": trigger, f"{which}TriggerPxType": "last"}


def algo_id(position: Position) -> str:
    """The id of the algo order that holds an open position's stops (one per position)."""
    i = position.instrument
    return str(900_000_000 + sum(map(ord, i.id)) * 1000 + position.created_ms % 1000)


def pending_algos(engine: Engine, account: str, wanted: str | None) -> list[dict[str, Any]]:
    """The stops of the account's open positions as OKX's pending algo orders."""
    wallet = engine.wallets[account]
    found = []
    for position in wallet.positions.values():
        i = position.instrument
        if not position.qty or (position.sl is None and position.tp is None):
            continue
        if wanted not in (None, i.id):
            continue
        both = position.sl is not None and position.tp is not None
        found.append(
            {
                "activePx": "", "actualPx": "", "actualSide": "", "actualSz": "0",
                "algoClOrdId": position.algo_client_id, "algoId": algo_id(position),
                "amendPxOnTriggerType": "0",
                "cTime": str(position.updated_ms), "ccy": "",
                "closeFraction": "1" if position.algo_closes_all else "",
                "instId": i.id, "instType": "SWAP", "last": text(engine.feed.mid(i.base)),
                "lever": str(wallet.leverage_of(i)), "ordId": "",
                "ordType": "oco" if both else "conditional", "posSide": "net",
                "reduceOnly": "true", "side": "sell" if position.qty > 0 else "buy",
                **_leg("sl", position.sl), **_leg("tp", position.tp),
                "state": "live", "sz": text(abs(position.qty)), "tdMode": "cross",
                "triggerPx": "", "uTime": str(position.updated_ms),
            }
        )  # fmt: skip
    return found
