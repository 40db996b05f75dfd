"""OKX v5: spot (``tdMode`` cash) and USDT swaps (cross margin, net mode), demo or live.

The paths ccxt 4.5.90 calls, and OKX's error table. Errors are ``{"code", "msg"}`` with
OKX's HTTP statuses (401 for the 501xx class, 429 for 50011, 503 for 50001); an order
refused inside a batch gets ``code "1"`` and its own ``sCode``/``sMsg``, which ccxt's
``okx.handle_errors`` reads first. Signing is in ``okx_signing.py``, body shapes in
``okx_shapes.py`` (checked against OKX's v5 docs and ccxt's ``markets/okx.json`` fixture),
TP/SL algo orders on open positions in ``okx_algos.py``.
"""

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from starlette.responses import Response

from . import okx_shapes as shapes
from .accounts import ApiKey
from .faults import FaultKind
from .instruments import Instrument, Kind
from .okx_algos import amend_algos, get_algo, place_algo
from .okx_shapes import auth_error, error, ok
from .okx_signing import authenticate
from .okx_stops import StopRefused, attached, check, pending_algos
from .orders import Order, Reason, Rejected
from .venue import VenueRequest, json_response, page_size, text, to_decimal

NAME: Final = "okx"
#: The requests that place or change an order (what an order-only fault matches).
PLACES: Final = frozenset({
    "/api/v5/trade/batch-orders", "/api/v5/trade/order", "/api/v5/trade/order-algo",
    "/api/v5/trade/amend-algos",
})  # fmt: skip
INST_TYPES: Final = {"SPOT": Kind.SPOT, "SWAP": Kind.LINEAR}

MIN_AMOUNT: Final = "Your order should meet or exceed the minimum order amount."
CANCEL_FAILED: Final = (
    "Order cancellation failed as the order has been filled, canceled or does not exist."
)
NO_POSITION: Final = (
    "Order failed because you don't have any positions in this direction for this contract."
)

#: sCode and sMsg of an order refused inside a batch.
ORDER_ERRORS: Final[dict[Reason, tuple[str, str]]] = {
    Reason.UNKNOWN_SYMBOL: ("51001", "Instrument ID does not exist."),
    Reason.BAD_PARAMETER: ("51000", "Parameter sz error"),
    Reason.QTY_STEP: ("51121", "Order quantity must be a multiple of the lot size."),
    Reason.QTY_TOO_SMALL: ("51020", MIN_AMOUNT),
    Reason.QTY_TOO_LARGE: ("51202", "Market - order amount exceeds the max amount."),
    Reason.PRICE_TICK: ("51000", "Parameter px error"),
    Reason.NOTIONAL_TOO_SMALL: ("51020", MIN_AMOUNT),
    Reason.INSUFFICIENT_FUNDS: ("51008", "Order failed. Insufficient {asset} balance in account."),
    Reason.DUPLICATE_CLIENT_ID: ("51016", "Duplicated client order ID"),
    Reason.REDUCE_ONLY_REJECTED: ("51169", NO_POSITION),
}


class Okx:
    name = NAME

    def places_order(self, method: str, path: str) -> bool:
        return method == "POST" and path in PLACES

    def order_id(self, number: int, kind: Kind) -> str:
        return str(680_800_000_000_000_000 + number)

    def trade_id(self, number: int) -> str:
        return str(744_800_000 + number)

    def rate_limited(self, kind: FaultKind, client_ip: str) -> Response:
        return json_response({"msg": "Too Many Requests", "code": "50011"}, 429)

    def maintenance(self) -> Response:
        message = "Service temporarily unavailable. Please try again later."
        return json_response({"msg": message, "code": "50001"}, 503)

    async def handle(self, request: VenueRequest) -> Response:
        public = PUBLIC.get((request.method, request.path))
        if public is not None:
            return public(request, request.query_params())
        private = PRIVATE.get((request.method, request.path))
        if private is None:
            return json_response({"msg": "Not Found", "code": "404"}, 404)
        handler, writes = private
        key = authenticate(request)
        if writes and not key.can_trade:
            raise auth_error("50120", "API key doesn't have permission.")
        if request.method == "GET":
            return handler(request, key, request.query_params())
        try:
            body = request.json_body()
        except json.JSONDecodeError as exc:
            raise error("50002", "Json data format error.", 400) from exc
        return handler(request, key, body)


def _instrument(request: VenueRequest, inst_id: object) -> Instrument | None:
    text_id = str(inst_id or "")
    kind = Kind.LINEAR if text_id.endswith("-SWAP") else Kind.SPOT
    return request.core.instrument(NAME, kind, text_id)


def _kind(params: dict[str, Any], required: bool = False) -> Kind | None:
    inst_type = params.get("instType")
    if inst_type is None and not required:
        return None
    kind = INST_TYPES.get(str(inst_type))
    if kind is None:
        raise error("50014", "Parameter instType can not be empty.", 400)
    return kind


def server_time(request: VenueRequest, params: dict[str, str]) -> Response:
    return ok([{"ts": str(request.core.venue_now_ms())}])


def instruments(request: VenueRequest, params: dict[str, str]) -> Response:
    kind = _kind(params, required=True)
    assert kind is not None
    listed = [i for i in shapes.listed(kind) if params.get("instId") in (None, i.id)]
    return ok([shapes.instrument_shape(i) for i in listed])


def ticker(request: VenueRequest, params: dict[str, str]) -> Response:
    """One instrument's ticker: the feed's bid, ask and mid now."""
    instrument = _instrument(request, params.get("instId"))
    if instrument is None:
        raise error("51001", "Instrument ID does not exist.", 200)
    quote = request.core.engine.feed.quote(instrument)
    mid = text(quote.mid)
    return ok([{
        "instType": "SWAP" if instrument.kind is Kind.LINEAR else "SPOT",
        "instId": instrument.id, "last": mid, "lastSz": "0", "askPx": text(quote.ask),
        "askSz": "1", "bidPx": text(quote.bid), "bidSz": "1", "open24h": mid, "high24h": mid,
        "low24h": mid, "volCcy24h": "0", "vol24h": "0", "sodUtc0": mid, "sodUtc8": mid,
        "ts": str(request.core.venue_now_ms()),
    }])  # fmt: skip


def config(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    return ok([shapes.config(key)])


def balance(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    wanted = set(str(params["ccy"]).split(",")) if params.get("ccy") else None
    return ok([shapes.balance(request.core.engine, key, wanted, request.core.venue_now_ms())])


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise error("50000", "Body can not be empty.", 400)
    return body


def batch_orders(request: VenueRequest, key: ApiKey, body: Any) -> Response:
    if not isinstance(body, list) or not body:
        raise error("50000", "Body can not be empty.", 400)
    body = [_object(entry) for entry in body]
    results = [_place_one(request, key, entry) for entry in body]
    failed = sum(1 for r in results if r["sCode"] != "0")
    if failed == 0:
        return ok(results)
    code, message = (
        ("1", "All operations failed")
        if failed == len(results)
        else ("2", "Bulk operation partially succeeded.")
    )
    return json_response({"code": code, "msg": message, "data": results})


def single_order(request: VenueRequest, key: ApiKey, body: Any) -> Response:
    result = _place_one(request, key, _object(body))
    if result["sCode"] != "0":
        return json_response({"code": "1", "msg": "Operation failed.", "data": [result]})
    return ok([result])


def _place_one(request: VenueRequest, key: ApiKey, entry: dict[str, Any]) -> dict[str, Any]:
    client_id = str(entry.get("clOrdId") or "")
    now = str(request.core.venue_now_ms())
    outcome = {"clOrdId": client_id, "ordId": "", "tag": str(entry.get("tag") or ""), "ts": now}
    instrument = _instrument(request, entry.get("instId"))
    engine = request.core.engine
    try:
        if instrument is None:
            raise Rejected(Reason.UNKNOWN_SYMBOL)  # noqa: TRY301 - answered like the others
        order_request = shapes.order_request(entry, instrument)
        stops = attached(entry, instrument)
        if stops:
            order_request = replace(order_request, stops=stops)
            check(engine, order_request)
        order = engine.place(key, order_request)
    except StopRefused as exc:
        return {**outcome, "sCode": exc.code, "sMsg": exc.message}
    except Rejected as exc:
        code, message = ORDER_ERRORS.get(exc.reason, ("51000", "Parameter error"))
        return {**outcome, "sCode": code, "sMsg": message.replace("{asset}", exc.asset)}
    request.placed_order = True
    return {**outcome, "ordId": order.venue_id, "sCode": "0", "sMsg": "Order placed"}


def _find(
    request: VenueRequest, key: ApiKey, params: dict[str, Any]
) -> tuple[Instrument, Order | None]:
    instrument = _instrument(request, params.get("instId"))
    if instrument is None:
        raise error("51001", "Instrument ID does not exist.")
    order_id, client_id = params.get("ordId"), params.get("clOrdId")
    if not order_id and not client_id:
        raise error("51003", "Either client order ID or order ID is required.")
    engine = request.core.engine
    if order_id:
        return instrument, engine.find(key, instrument, venue_id=str(order_id))
    return instrument, engine.find(key, instrument, client_id=str(client_id))


def get_order(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    _, order = _find(request, key, params)
    if order is None:
        raise error("51603", "Order does not exist")
    return ok([shapes.order_shape(request.core.engine, key, order)])


def cancel_order(request: VenueRequest, key: ApiKey, body: Any) -> Response:
    body = _object(body)
    _, order = _find(request, key, body)
    now = str(request.core.venue_now_ms())
    if order is None or not order.status.is_open:
        ids = {"clOrdId": str(body.get("clOrdId") or ""), "ordId": str(body.get("ordId") or "")}
        item = {**ids, "ts": now, "sCode": "51400", "sMsg": CANCEL_FAILED}
        return json_response({"code": "1", "msg": "Operation failed.", "data": [item]})
    request.core.engine.cancel(order)
    ids = {"clOrdId": order.client_id, "ordId": order.venue_id}
    return ok([{**ids, "ts": now, "sCode": "0", "sMsg": ""}])


def _orders(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> list[Order]:
    instrument = _instrument(request, params["instId"]) if params.get("instId") else None
    return request.core.engine.query(key, kind=_kind(params), instrument=instrument)


def pending(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    orders = [o for o in _orders(request, key, params) if o.status.is_open]
    return ok([shapes.order_shape(request.core.engine, key, o) for o in orders[:100]])


def order_history(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    _kind(params, required=True)
    orders = [o for o in _orders(request, key, params) if not o.status.is_open]
    return ok([shapes.order_shape(request.core.engine, key, o) for o in orders[:100]])


def fills(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    if request.path.endswith("fills-history"):
        _kind(params, required=True)
    begin = int(params.get("begin") or 0)
    entries = [
        (o, f)
        for o in _orders(request, key, params)
        for f in o.fills
        if f.time_ms >= begin and params.get("ordId") in (None, o.venue_id)
    ]
    entries.sort(key=lambda pair: pair[1].trade_id, reverse=True)
    limit = page_size(params.get("limit"), 100)
    return ok([shapes.fill_shape(o, f) for o, f in entries[:limit]])


def positions(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    engine = request.core.engine
    wanted = set(str(params["instId"]).split(",")) if params.get("instId") else None
    held = [i for i in engine.open_positions(key) if wanted is None or i.id in wanted]
    return ok([shapes.position_shape(engine, key, i) for i in held])


#: The algo order types OKX lists at orders-algo-pending ("conditional,oco" together).
ALGO_TYPES: Final = frozenset(
    {"conditional", "oco", "trigger", "move_order_stop", "iceberg", "twap"}
)


def algo_pending(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    """Pending algo orders: here the TP/SL that orders attached to open positions."""
    wanted = set(str(params.get("ordType") or "").split(","))
    if not wanted <= ALGO_TYPES or (len(wanted) > 1 and wanted != {"conditional", "oco"}):
        raise error("51000", "Parameter ordType error")
    inst_type = params.get("instType")
    if inst_type not in (None, "SWAP", "SPOT", "MARGIN", "FUTURES"):
        raise error("51000", "Parameter instType error")
    account = f"{key.exchange}:{key.account}"
    algos = pending_algos(request.core.engine, account, params.get("instId"))
    return ok([a for a in algos if a["ordType"] in wanted and inst_type in (None, "SWAP")])


def set_leverage(request: VenueRequest, key: ApiKey, body: Any) -> Response:
    body = _object(body)
    instrument = _instrument(request, body.get("instId"))
    lever = to_decimal(body.get("lever"))
    if instrument is None or not instrument.linear:
        raise error("51001", "Instrument ID does not exist.")
    if lever is None or lever != int(lever) or lever < 1:
        raise error("51000", "Parameter lever error")
    if body.get("mgnMode") not in ("cross", "isolated"):
        raise error("51000", "Parameter mgnMode error")
    try:
        request.core.engine.set_leverage(key, instrument, int(lever), reject_unchanged=False)
    except Rejected as exc:
        raise error("59102", "Leverage exceeds the maximum leverage.") from exc
    side = str(body.get("posSide") or "net")
    return ok(
        [
            {
                "lever": str(int(lever)),
                "mgnMode": body["mgnMode"],
                "instId": instrument.id,
                "posSide": side,
            }
        ]
    )


Public = Callable[[VenueRequest, dict[str, str]], Response]
Private = Callable[[VenueRequest, ApiKey, Any], Response]

PUBLIC: Final[dict[tuple[str, str], Public]] = {
    ("GET", "/api/v5/public/time"): server_time,
    ("GET", "/api/v5/public/instruments"): instruments,
    ("GET", "/api/v5/market/ticker"): ticker,
}
#: Private routes and whether they need a key that may trade.
PRIVATE: Final[dict[tuple[str, str], tuple[Private, bool]]] = {
    ("GET", "/api/v5/account/config"): (config, False),
    ("GET", "/api/v5/account/balance"): (balance, False),
    ("GET", "/api/v5/account/positions"): (positions, False),
    ("POST", "/api/v5/account/set-leverage"): (set_leverage, True),
    ("POST", "/api/v5/trade/batch-orders"): (batch_orders, True),
    ("POST", "/api/v5/trade/order"): (single_order, True),
    ("POST", "/api/v5/trade/cancel-order"): (cancel_order, True),
    ("GET", "/api/v5/trade/order"): (get_order, False),
    ("GET", "/api/v5/trade/orders-pending"): (pending, False),
    ("GET", "/api/v5/trade/orders-history"): (order_history, False),
    ("GET", "/api/v5/trade/orders-algo-pending"): (algo_pending, False),
    ("POST", "/api/v5/trade/order-algo"): (place_algo, True),
    ("POST", "/api/v5/trade/amend-algos"): (amend_algos, True),
    ("GET", "/api/v5/trade/order-algo"): (get_algo, False),
    ("GET", "/api/v5/trade/fills"): (fills, False),
    ("GET", "/api/v5/trade/fills-history"): (fills, False),
}
