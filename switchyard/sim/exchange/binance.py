"""Binance spot: ``/api/v3`` and the key-permission endpoint ``/sapi/v1/account/apiRestrictions``.

The paths ccxt 4.5.90 calls, and Binance's error table, checked against Binance's spot
error list and ccxt's ``binance.py`` (``exceptions`` and ``handle_errors``: 418/429 are
DDoSProtection; -2015 is AuthenticationError until one private call succeeded, then
DDoSProtection). Binance's testnet has no ``sapi``: a testnet key gets the 404 a missing
route gets. Signing is in ``binance_signing.py``, body shapes in ``binance_shapes.py``.
"""

import re
from collections.abc import Callable
from typing import Final

from starlette.responses import Response

from . import binance_shapes as shapes
from .accounts import ApiKey
from .binance_shapes import REJECTED_KEY, error, missing
from .binance_signing import authenticate
from .faults import FaultKind
from .instruments import Instrument, Kind
from .orders import Order, OrderRequest, OrderType, Reason, Rejected, Side
from .venue import Reply, VenueRequest, json_response, text, to_decimal

NAME: Final = "binance"
CLIENT_ID: Final = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")

INSUFFICIENT: Final = "Account has insufficient balance for requested action."
#: (HTTP status, code, message) per refusal.
ERRORS: Final[dict[Reason, tuple[int, int, str]]] = {
    Reason.UNKNOWN_SYMBOL: (400, -1121, "Invalid symbol."),
    Reason.BAD_PARAMETER: (400, -1102, "A mandatory parameter was not sent or is malformed."),
    Reason.QTY_STEP: (400, -1013, "Filter failure: LOT_SIZE"),
    Reason.QTY_TOO_SMALL: (400, -1013, "Filter failure: LOT_SIZE"),
    Reason.QTY_TOO_LARGE: (400, -1013, "Filter failure: LOT_SIZE"),
    Reason.PRICE_TICK: (400, -1013, "Filter failure: PRICE_FILTER"),
    # ccxt 4.5.90 has no NOTIONAL entry: it raises BadRequest for this, as against Binance.
    Reason.NOTIONAL_TOO_SMALL: (400, -1013, "Filter failure: NOTIONAL"),
    Reason.INSUFFICIENT_FUNDS: (400, -2010, INSUFFICIENT),
    Reason.DUPLICATE_CLIENT_ID: (400, -2010, "Duplicate order sent."),
    Reason.ORDER_NOT_FOUND: (400, -2013, "Order does not exist."),
}
RATE_LIMIT: Final = (
    "Too many requests; current limit of IP({ip}) is 6000 requests per minute. "
    "Please use the websocket for live updates to avoid polling the API."
)
BANNED: Final = (
    "Way too much request weight used; IP banned until 1893456000000. "
    "Please use WebSocket Streams for live updates to avoid bans."
)


def refuse(reason: Reason) -> Reply:
    return error(*ERRORS[reason])


class Binance:
    name = NAME

    def places_order(self, method: str, path: str) -> bool:
        return method == "POST" and path == "/api/v3/order"

    def order_id(self, number: int, kind: Kind) -> str:
        return str(28_000_000 + number)

    def trade_id(self, number: int) -> str:
        return str(4_200_000 + number)

    def rate_limited(self, kind: FaultKind, client_ip: str) -> Response:
        if kind is FaultKind.IP_BAN:
            return json_response({"code": -1003, "msg": BANNED}, 418, {"Retry-After": "120"})
        message = RATE_LIMIT.format(ip=client_ip)
        return json_response({"code": -1003, "msg": message}, 429, {"Retry-After": "10"})

    def maintenance(self) -> Response:
        return json_response({"code": 1, "msg": "System is under maintenance."}, 503)

    async def handle(self, request: VenueRequest) -> Response:
        params = {**request.form_params(), **request.query_params()}
        public = PUBLIC.get((request.method, request.path))
        if public is not None:
            return public(request, params)
        private = PRIVATE.get((request.method, request.path))
        if private is None:
            return Response("", status_code=404)
        handler, trades = private
        key = authenticate(request, params)
        if key.environment == "testnet" and request.path.startswith("/sapi/"):
            return Response("", status_code=404)
        if not key.can_read or (trades and not key.can_trade):
            raise error(*REJECTED_KEY)
        return handler(request, key, params)


def _instrument(request: VenueRequest, params: dict[str, str]) -> Instrument | None:
    symbol = params.get("symbol")
    if not symbol:
        return None
    instrument = request.core.instrument(NAME, Kind.SPOT, symbol)
    if instrument is None:
        raise refuse(Reason.UNKNOWN_SYMBOL)
    return instrument


def _required_instrument(request: VenueRequest, params: dict[str, str]) -> Instrument:
    instrument = _instrument(request, params)
    if instrument is None:
        raise missing("symbol")
    return instrument


def server_time(request: VenueRequest, params: dict[str, str]) -> Response:
    return json_response({"serverTime": request.core.venue_now_ms()})


def ping(request: VenueRequest, params: dict[str, str]) -> Response:
    return json_response({})


def exchange_info(request: VenueRequest, params: dict[str, str]) -> Response:
    if params.get("symbol"):
        _instrument(request, params)
    return json_response(shapes.exchange_info(request.core.venue_now_ms(), params.get("symbol")))


def ticker_24hr(request: VenueRequest, params: dict[str, str]) -> Response:
    """One symbol's 24-hour ticker (what ccxt's fetch_ticker reads for spot): the feed's
    bid, ask and mid now; no history is kept, so open/high/low are the mid too."""
    instrument = _required_instrument(request, params)
    quote = request.core.engine.feed.quote(instrument)
    now = request.core.venue_now_ms()
    mid = text(quote.mid)
    return json_response({
        "symbol": instrument.id, "priceChange": "0", "priceChangePercent": "0",
        "weightedAvgPrice": mid, "prevClosePrice": mid, "lastPrice": mid, "lastQty": "0",
        "bidPrice": text(quote.bid), "bidQty": "1", "askPrice": text(quote.ask), "askQty": "1",
        "openPrice": mid, "highPrice": mid, "lowPrice": mid, "volume": "0", "quoteVolume": "0",
        "openTime": now - 86_400_000, "closeTime": now, "firstId": -1, "lastId": -1, "count": 0,
    })  # fmt: skip


def account(request: VenueRequest, key: ApiKey, params: dict[str, str]) -> Response:
    wallet = request.core.engine.wallet(key)
    return json_response(shapes.account(key, wallet, request.core.venue_now_ms()))


def api_restrictions(request: VenueRequest, key: ApiKey, params: dict[str, str]) -> Response:
    return json_response(shapes.api_restrictions(key))


def new_order(request: VenueRequest, key: ApiKey, params: dict[str, str]) -> Response:
    instrument = _required_instrument(request, params)
    side, kind = params.get("side", ""), params.get("type", "")
    if side not in ("BUY", "SELL"):
        raise missing("side")
    if kind not in ("MARKET", "LIMIT"):
        raise error(400, -1116, "Invalid orderType.")
    client_id = params.get("newClientOrderId", "")
    if client_id and not CLIENT_ID.match(client_id):
        message = (
            "Illegal characters found in parameter 'newClientOrderId'; "
            "legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'."
        )
        raise error(400, -1100, message)
    qty, quote_qty, price = (
        to_decimal(params.get(n)) for n in ("quantity", "quoteOrderQty", "price")
    )
    if kind == "LIMIT":
        for name in ("timeInForce", "quantity", "price"):
            if not params.get(name):
                raise missing(name)
    elif qty is None and quote_qty is None:
        message = "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
        raise error(400, -1102, message)
    order_request = OrderRequest(
        instrument=instrument,
        side=Side(side.lower()),
        type=OrderType(kind.lower()),
        qty=qty,
        price=price if kind == "LIMIT" else None,
        quote_qty=quote_qty if kind == "MARKET" and qty is None else None,
        client_id=client_id or f"web_{request.core.venue_now_ms()}",
        time_in_force=params.get("timeInForce", "GTC"),
    )
    if request.path.endswith("/test"):
        return json_response({})
    try:
        order = request.core.engine.place(key, order_request)
    except Rejected as exc:
        raise refuse(exc.reason) from exc
    request.placed_order = True
    shape = shapes.order_shape(order, full=True)
    respond = params.get("newOrderRespType", "FULL")
    if respond == "ACK":
        shape = {k: shape[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId")}
        shape["transactTime"] = order.created_ms
    elif respond == "RESULT":
        del shape["fills"]
    return json_response(shape)


def _find(request: VenueRequest, key: ApiKey, params: dict[str, str]) -> Order | None:
    instrument = _required_instrument(request, params)
    order_id, client_id = params.get("orderId"), params.get("origClientOrderId")
    if not order_id and not client_id:
        message = "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        raise error(400, -1102, message)
    engine = request.core.engine
    if order_id:
        return engine.find(key, instrument, venue_id=order_id)
    return engine.find(key, instrument, client_id=client_id)


def query_order(request: VenueRequest, key: ApiKey, params: dict[str, str]) -> Response:
    order = _find(request, key, params)
    if order is None:
        raise refuse(Reason.ORDER_NOT_FOUND)
    return json_response(shapes.order_shape(order))


def cancel_order(request: VenueRequest, key: ApiKey, params: dict[str, str]) -> Response:
    order = _find(request, key, params)
    if order is None or not order.status.is_open:
        raise error(400, -2011, "Unknown order sent.")
    request.core.engine.cancel(order)
    cancel_id = params.get("newClientOrderId") or f"cancel_{order.venue_id}"
    return json_response(shapes.canceled_shape(order, cancel_id))


def open_orders(request: VenueRequest, key: ApiKey, params: dict[str, str]) -> Response:
    orders = request.core.engine.open_orders(key, _instrument(request, params))
    return json_response([shapes.order_shape(o) for o in orders])


def my_trades(request: VenueRequest, key: ApiKey, params: dict[str, str]) -> Response:
    instrument = _required_instrument(request, params)
    order_id = params.get("orderId")
    start, from_id = int(params.get("startTime") or 0), int(params.get("fromId") or 0)
    limit = min(int(params.get("limit") or 500), 1000)
    trades = [
        shapes.trade_shape(order, fill)
        for order, fill in request.core.engine.fills_of(key, instrument)
        if order_id in (None, order.venue_id)
        and fill.time_ms >= start
        and int(fill.venue_id) >= from_id
    ]
    return json_response(trades[:limit])


Public = Callable[[VenueRequest, dict[str, str]], Response]
Private = Callable[[VenueRequest, ApiKey, dict[str, str]], Response]

PUBLIC: Final[dict[tuple[str, str], Public]] = {
    ("GET", "/api/v3/ping"): ping,
    ("GET", "/api/v3/time"): server_time,
    ("GET", "/api/v3/exchangeInfo"): exchange_info,
    ("GET", "/api/v3/ticker/24hr"): ticker_24hr,
}
#: Signed routes and whether they need a key that may trade.
PRIVATE: Final[dict[tuple[str, str], tuple[Private, bool]]] = {
    ("GET", "/api/v3/account"): (account, False),
    ("POST", "/api/v3/order"): (new_order, True),
    ("POST", "/api/v3/order/test"): (new_order, True),
    ("GET", "/api/v3/order"): (query_order, False),
    ("DELETE", "/api/v3/order"): (cancel_order, True),
    ("GET", "/api/v3/openOrders"): (open_orders, False),
    ("GET", "/api/v3/myTrades"): (my_trades, False),
    ("GET", "/sapi/v1/account/apiRestrictions"): (api_restrictions, False),
}
