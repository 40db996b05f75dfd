"""OKX's TP/SL algo orders on an open swap position: placed (``POST /api/v5/trade/order-algo``,
``conditional`` or ``oco``, ``closeFraction`` 1), amended (``POST /api/v5/trade/amend-algos``)
and read (``GET /api/v5/trade/order-algo``).

Shapes and codes from OKX's v5 docs and error table, and ccxt's request fixture
(``order-algo`` with ``closeFraction`` sends no ``sz``; ccxt adds ``clOrdId`` and ``tag``).
A position holds one such algo order (51088 for a second one); its trigger prices are the
position's stops, which the engine's sweep triggers on. Each trigger price is checked
against the last price: a long's (a ``sell``'s) take profit above it and stop loss below
(51279, 51280), a short's the reverse (51277, 51278). Only what switchyard sends is
simulated: market legs (``-1``), net mode; deleting a leg ("0") and adding a leg the algo
order does not have are refused.
"""

import re
from decimal import Decimal
from typing import Any, Final

from starlette.responses import Response

from .accounts import ApiKey
from .instruments import Instrument, Kind, on_step
from .okx_shapes import error, ok
from .okx_stops import TRIGGER_TYPES, algo_id, pending_algos
from .venue import VenueRequest, json_response, to_decimal
from .wallet import Position

NAME: Final = "okx"
#: OKX's algoClOrdId: up to 32 letters and digits.
ALGO_CLIENT_ID: Final = re.compile(r"[A-Za-z0-9]{1,32}")

#: (sCode, sMsg) of a trigger price on the wrong side of the last price, per (long?, leg).
WRONG_SIDE: Final[dict[tuple[bool, str], tuple[str, str]]] = {
    (False, "tp"): ("51277", "TP trigger price cannot be higher than the last price."),
    (False, "sl"): ("51278", "SL trigger price cannot be lower than the last price."),
    (True, "tp"): ("51279", "TP trigger price cannot be lower than the last price."),
    (True, "sl"): ("51280", "SL trigger price cannot be higher than the last price."),
}
NO_POSITION: Final = ("51058", "No available position for this algo order")
ONE_PER_POSITION: Final = ("51088", "You can only place 1 TP/SL order to close an entire position")
NOT_FOUND: Final = ("51603", "Order does not exist.")
SIZE_OF_CLOSE_ALL: Final = (
    "51524",
    "Unable to modify the order quantity of a stop order that closes an entire position. "
    "Please modify the trigger price instead.",
)
NO_NEW_LEG: Final = (
    "51526",
    "Order modification unsuccessful. Take profit/Stop loss conditions cannot be added to "
    "or removed from stop orders.",
)


class AlgoRefused(Exception):  # noqa: N818 - OKX's answer, not a failure
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise error("50000", "Body can not be empty.", 400)
    return body


def _swap(request: VenueRequest, inst_id: object) -> Instrument:
    instrument = request.core.instrument(NAME, Kind.LINEAR, str(inst_id or ""))
    if instrument is None:
        raise AlgoRefused("51001", "Instrument ID does not exist.")
    return instrument


def _trigger(body: dict[str, Any], field: str, instrument: Instrument) -> Decimal | None:
    raw = body.get(field)
    if raw in (None, ""):
        return None
    value = to_decimal(raw)
    if value is None or value < 0 or (value and not on_step(value, instrument.tick)):
        raise AlgoRefused("51000", f"Parameter {field} error")
    if value == 0:
        raise AlgoRefused("51000", f"Parameter {field} error: deleting a leg is not simulated")
    return value


def _market_leg(body: dict[str, Any], which: str, *, amending: bool) -> None:
    """A leg closed at market (ordPx -1; an amendment may leave it out to keep it),
    triggered on a price type OKX knows."""
    name = f"new{which.capitalize()}" if amending else which
    order_price = body.get(f"{name}OrdPx")
    if str(order_price) != "-1" and not (amending and order_price in (None, "")):
        raise AlgoRefused("51000", f"Parameter {name}OrdPx error: only -1 is simulated")
    if str(body.get(f"{name}TriggerPxType") or "") not in TRIGGER_TYPES:
        raise AlgoRefused("51000", f"Parameter {name}TriggerPxType error")


def _check_side(request: VenueRequest, position: Position, sl: Decimal | None,
                tp: Decimal | None) -> None:  # fmt: skip
    long = position.qty > 0
    last = request.core.engine.feed.mid(position.instrument.base)
    if sl is not None and (sl >= last if long else sl <= last):
        raise AlgoRefused(*WRONG_SIDE[(long, "sl")])
    if tp is not None and (tp <= last if long else tp >= last):
        raise AlgoRefused(*WRONG_SIDE[(long, "tp")])


def _refused(exc: AlgoRefused, ids: dict[str, str]) -> Response:
    item = {**ids, "sCode": exc.code, "sMsg": exc.message}
    return json_response({"code": "1", "msg": "Operation failed.", "data": [item]})


def place_algo(request: VenueRequest, key: ApiKey, body: Any) -> Response:
    """A ``conditional`` (one leg) or ``oco`` (both) TP/SL closing the whole position."""
    body = _object(body)
    client_id = str(body.get("algoClOrdId") or "")
    ids = {"algoId": "", "algoClOrdId": client_id, "clOrdId": str(body.get("clOrdId") or ""),
           "tag": str(body.get("tag") or "")}  # fmt: skip
    try:
        position = _placeable(request, key, body, client_id)
    except AlgoRefused as exc:
        return _refused(exc, ids)
    request.placed_order = True
    return ok([{**ids, "algoId": algo_id(position), "sCode": "0", "sMsg": ""}])


def _placeable(
    request: VenueRequest, key: ApiKey, body: dict[str, Any], client_id: str
) -> Position:
    instrument = _swap(request, body.get("instId"))
    if body.get("tdMode") not in ("cross", "isolated"):
        raise AlgoRefused("51000", "Parameter tdMode error")
    if body.get("side") not in ("buy", "sell"):
        raise AlgoRefused("51000", "Parameter side error")
    if str(body.get("posSide") or "net") != "net":
        raise AlgoRefused("51000", "Parameter posSide error: only net mode is simulated")
    if str(body.get("closeFraction") or "") != "1" or body.get("sz") not in (None, ""):
        raise AlgoRefused("51000", "Parameter sz error: only closeFraction 1 is simulated")
    if body.get("reduceOnly") is not True:
        raise AlgoRefused("51328", "closeFraction is only available for reduceOnly orders")
    if client_id and not ALGO_CLIENT_ID.fullmatch(client_id):
        raise AlgoRefused("51000", "Parameter algoClOrdId error")
    sl = _trigger(body, "slTriggerPx", instrument)
    tp = _trigger(body, "tpTriggerPx", instrument)
    legs = {"conditional": 1, "oco": 2}.get(str(body.get("ordType")))
    if legs is None or legs != (sl is not None) + (tp is not None):
        raise AlgoRefused("51000", "Parameter ordType error")
    for which, price in (("sl", sl), ("tp", tp)):
        if price is not None:
            _market_leg(body, which, amending=False)
    wallet = request.core.engine.wallet(key)
    position = wallet.position(instrument)
    closing = "sell" if position.qty > 0 else "buy"
    if not position.qty or body["side"] != closing:
        raise AlgoRefused(*NO_POSITION)
    if client_id and any(
        p.qty and p.algo_client_id == client_id for p in wallet.positions.values()
    ):
        raise AlgoRefused("51065", "algoClOrdId already exists.")
    if position.sl is not None or position.tp is not None:
        raise AlgoRefused(*ONE_PER_POSITION)
    _check_side(request, position, sl, tp)
    position.sl, position.tp = sl, tp
    position.algo_client_id, position.algo_closes_all = client_id, True
    position.updated_ms = request.core.venue_now_ms()
    return position


def _held(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Position:
    """The open position whose algo order ``params`` names (algoId first, as OKX)."""
    wanted_id, wanted_client = str(params.get("algoId") or ""), str(params.get("algoClOrdId") or "")
    if not wanted_id and not wanted_client:
        raise AlgoRefused("51000", "Parameter algoId error")
    for position in request.core.engine.wallet(key).positions.values():
        if not position.qty or (position.sl is None and position.tp is None):
            continue
        if (wanted_id and algo_id(position) == wanted_id) or (
            not wanted_id and position.algo_client_id == wanted_client
        ):
            return position
    raise AlgoRefused(*NOT_FOUND)


def amend_algos(request: VenueRequest, key: ApiKey, body: Any) -> Response:
    """New trigger prices of a pending TP/SL algo order's legs (one left out is kept)."""
    body = _object(body)
    ids = {name: str(body.get(name) or "") for name in ("algoId", "algoClOrdId", "reqId")}
    try:
        position, sl, tp = _amendable(request, key, body)
    except AlgoRefused as exc:
        return _refused(exc, ids)
    position.sl = sl if sl is not None else position.sl
    position.tp = tp if tp is not None else position.tp
    position.updated_ms = request.core.venue_now_ms()
    request.placed_order = True
    answer = {**ids, "algoId": algo_id(position), "algoClOrdId": position.algo_client_id}
    return ok([{**answer, "sCode": "0", "sMsg": ""}])


def _amendable(
    request: VenueRequest, key: ApiKey, body: dict[str, Any]
) -> tuple[Position, Decimal | None, Decimal | None]:
    instrument = _swap(request, body.get("instId"))
    position = _held(request, key, body)
    if position.instrument is not instrument:
        raise AlgoRefused(*NOT_FOUND)
    if body.get("newSz") not in (None, ""):
        raise AlgoRefused(*SIZE_OF_CLOSE_ALL)
    sl = _trigger(body, "newSlTriggerPx", instrument)
    tp = _trigger(body, "newTpTriggerPx", instrument)
    if sl is None and tp is None:
        raise AlgoRefused("51000", "Parameter newSlTriggerPx error")
    for which, price, held in (("sl", sl, position.sl), ("tp", tp, position.tp)):
        if price is not None:
            if held is None:
                raise AlgoRefused(*NO_NEW_LEG)
            _market_leg(body, which, amending=True)
    _check_side(request, position, sl, tp)
    return position, sl, tp


def get_algo(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    """One pending algo order by algoId or algoClOrdId (51603 when there is none)."""
    try:
        position = _held(request, key, params)
    except AlgoRefused as exc:
        raise error(exc.code, exc.message) from exc
    account = f"{key.exchange}:{key.account}"
    found = pending_algos(request.core.engine, account, position.instrument.id)
    return ok(found)
