"""Bybit v5, unified trading account: spot and USDT linear perpetuals.

The paths ccxt 4.5.90 calls, and Bybit's error table. Every answer is the ``retCode``
envelope; the codes are Bybit's v5 ones, as ccxt's ``bybit.py`` maps them (10002
InvalidNonce, 10003/10004 AuthenticationError, 10005/10010 PermissionDenied, 10006
RateLimitExceeded, 110007/170131 InsufficientFunds, "Not supported symbols" BadSymbol...).
Signing is in ``bybit_signing.py``, body shapes in ``bybit_shapes.py`` (checked against
Bybit's v5 docs and ccxt's ``markets/bybit.json`` fixture).
"""

import json
from collections.abc import Callable
from typing import Any, Final

from starlette.responses import Response

from . import bybit_shapes as shapes
from .accounts import ApiKey
from .bybit_shapes import envelope, error, ok
from .bybit_signing import authenticate
from .faults import FaultKind
from .instruments import Instrument, Kind
from .orders import Order, OrderRequest, OrderType, Reason, Rejected, Side
from .stops import off_tick, wrong_side
from .venue import Reply, VenueRequest, json_response, page_size, text, to_decimal

NAME: Final = "bybit"
CATEGORIES: Final = {"spot": Kind.SPOT, "linear": Kind.LINEAR}

SPOT_ERRORS: Final[dict[Reason, tuple[int, str]]] = {
    Reason.QTY_STEP: (170137, "Order volume decimal too long."),
    Reason.QTY_TOO_SMALL: (170136, "Order quantity lower than the minimum."),
    Reason.QTY_TOO_LARGE: (170135, "Order quantity too large."),
    Reason.PRICE_TICK: (170134, "Order price decimal too long."),
    Reason.NOTIONAL_TOO_SMALL: (170140, "Order value exceeded lower limit."),
    Reason.INSUFFICIENT_FUNDS: (170131, "Insufficient balance."),
    Reason.DUPLICATE_CLIENT_ID: (170141, "Duplicate clientOrderId."),
    Reason.ORDER_NOT_FOUND: (170213, "Order does not exist."),
}
LINEAR_ERRORS: Final[dict[Reason, tuple[int, str]]] = {
    Reason.QTY_STEP: (10001, "Qty invalid"),
    Reason.QTY_TOO_SMALL: (10001, "The number of contracts exceeds minimum limit allowed"),
    Reason.QTY_TOO_LARGE: (
        10001,
        "The number of contracts exceeds maximum limit allowed: too large",
    ),
    Reason.PRICE_TICK: (10001, "Price invalid"),
    Reason.NOTIONAL_TOO_SMALL: (110094, "Order does not meet minimum order value 5USDT"),
    Reason.INSUFFICIENT_FUNDS: (110007, "ab not enough for new order"),
    Reason.DUPLICATE_CLIENT_ID: (110072, "OrderLinkedID is duplicate"),
    Reason.ORDER_NOT_FOUND: (110001, "order not exists or too late to cancel"),
    Reason.REDUCE_ONLY_REJECTED: (
        110017,
        "current position is zero, cannot fix reduce-only order qty",
    ),
    Reason.LEVERAGE_NOT_MODIFIED: (110043, "Set leverage not modified"),
    Reason.LEVERAGE_INVALID: (10001, "leverage invalid"),
}
COMMON_ERRORS: Final[dict[Reason, tuple[int, str]]] = {
    # ccxt matches "Not supported symbols" broadly and raises BadSymbol.
    Reason.UNKNOWN_SYMBOL: (10001, "Not supported symbols"),
    Reason.BAD_PARAMETER: (10001, "params error"),
}


def refuse(request: VenueRequest, reason: Reason, kind: Kind) -> Reply:
    table = LINEAR_ERRORS if kind is Kind.LINEAR else SPOT_ERRORS
    code, message = table.get(reason) or COMMON_ERRORS.get(reason) or (10001, "params error")
    return error(request, code, message)


class Bybit:
    name = NAME

    def places_order(self, method: str, path: str) -> bool:
        return method == "POST" and path == "/v5/order/create"

    def order_id(self, number: int, kind: Kind) -> str:
        """Spot order ids are 19 digits on Bybit, derivatives ones UUIDs."""
        if kind is Kind.SPOT:
            return str(2_088_690_000_000_000_000 + number)
        return shapes.uuid_of("order", number)

    def trade_id(self, number: int) -> str:
        return shapes.uuid_of("exec", number)

    def rate_limited(self, kind: FaultKind, client_ip: str) -> Response:
        if kind is FaultKind.IP_BAN:  # the IP limit: a bare 403 (ccxt: RateLimitExceeded)
            return Response("access too frequent", status_code=403, media_type="text/plain")
        headers = {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "0"}
        return json_response(envelope({}, 10006, "Too many visits!"), 200, headers)

    def maintenance(self) -> Response:
        return json_response(envelope({}, 10016, "System error. Please try again later."))

    async def handle(self, request: VenueRequest) -> Response:
        public = PUBLIC.get((request.method, request.path))
        if public is not None:
            return public(request, request.query_params())
        private = PRIVATE.get((request.method, request.path))
        if private is None:
            return Response("", status_code=404)
        handler, writes = private
        key = authenticate(request)
        if writes and not key.can_trade:
            raise error(request, 10005, "Permission denied, please check your API key permissions.")
        params = request.query_params() if request.method == "GET" else _body(request)
        return handler(request, key, params)


def _body(request: VenueRequest) -> dict[str, Any]:
    try:
        body = request.json_body()
    except json.JSONDecodeError as exc:
        raise error(request, 10001, "request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise error(request, 10001, "params error")
    return body


def _kind(request: VenueRequest, params: dict[str, Any]) -> Kind:
    kind = CATEGORIES.get(str(params.get("category", "")))
    if kind is None:
        raise error(request, 10001, "params error: category is invalid")
    return kind


def _instrument(request: VenueRequest, params: dict[str, Any], kind: Kind) -> Instrument | None:
    symbol = params.get("symbol")
    if not symbol:
        return None
    instrument = request.core.instrument(NAME, kind, str(symbol))
    if instrument is None:
        raise refuse(request, Reason.UNKNOWN_SYMBOL, kind)
    return instrument


def server_time(request: VenueRequest, params: dict[str, str]) -> Response:
    now = request.core.venue_now_ms()
    return ok(request, {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})


def instruments_info(request: VenueRequest, params: dict[str, str]) -> Response:
    kind = _kind(request, params)
    wanted = params.get("symbol")
    found = [] if params.get("status") == "PreLaunch" else shapes.listed_instruments(kind)
    items = [shapes.instrument_shape(i) for i in found if wanted in (None, i.id)]
    result: dict[str, Any] = {"category": params["category"], "list": items}
    if kind is Kind.LINEAR:
        result["nextPageCursor"] = ""
    return ok(request, result)


def tickers(request: VenueRequest, params: dict[str, str]) -> Response:
    """Tickers of a category (one symbol's with ``symbol``): the feed's bid, ask and mid."""
    kind = _kind(request, params)
    wanted = params.get("symbol")
    items = []
    for instrument in shapes.listed_instruments(kind):
        if wanted not in (None, instrument.id):
            continue
        quote = request.core.engine.feed.quote(instrument)
        mid = text(quote.mid)
        item = {
            "symbol": instrument.id, "bid1Price": text(quote.bid), "bid1Size": "1",
            "ask1Price": text(quote.ask), "ask1Size": "1", "lastPrice": mid,
            "prevPrice24h": mid, "price24hPcnt": "0", "highPrice24h": mid, "lowPrice24h": mid,
            "turnover24h": "0", "volume24h": "0",
        }  # fmt: skip
        if kind is Kind.LINEAR:  # what tells ccxt a linear ticker from a spot one
            item |= {"markPrice": mid, "indexPrice": mid, "openInterest": "0",
                     "openInterestValue": "0", "fundingRate": "0.0001"}  # fmt: skip
        items.append(item)
    return ok(request, {"category": params["category"], "list": items})


def query_api(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    return ok(request, shapes.key_info(key))


def account_info(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    return ok(request, shapes.account_info(request.core.venue_now_ms()))


def wallet_balance(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    if params.get("accountType") != "UNIFIED":
        raise error(request, 10001, "accountType only support UNIFIED.")
    coins = params.get("coin")
    wanted = set(str(coins).split(",")) if coins else None
    return ok(request, {"list": [shapes.wallet(request.core.engine, key, wanted)]})


def create_order(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    kind = _kind(request, params)
    instrument = _instrument(request, params, kind)
    if instrument is None:
        raise error(request, 10001, "params error: symbol invalid")
    try:
        order_request = shapes.order_request(params, instrument, request.core.venue_now_ms())
    except ValueError as exc:
        raise error(request, 10001, f"params error: {exc}") from exc
    if order_request.stops:
        _check_stops(request, order_request)
    try:
        order = request.core.engine.place(key, order_request)
    except Rejected as exc:
        raise refuse(request, exc.reason, kind) from exc
    request.placed_order = True
    return ok(request, {"orderId": order.venue_id, "orderLinkId": order.client_id})


def _check_stops(request: VenueRequest, order: OrderRequest) -> None:
    """Bybit's checks of an attached stop loss / take profit: on the tick, and on the right
    side of the base price (the limit price, else the last price), retCode 10001."""
    stops, instrument = order.stops, order.instrument
    if (which := off_tick(instrument, stops)) is not None:
        name = "StopLoss" if which == "sl" else "TakeProfit"
        raise error(request, 10001, f"params error: {name} price invalid")
    if order.type is OrderType.LIMIT and order.price is not None:
        base = order.price
    else:
        base = request.core.engine.feed.mid(instrument.base)
    which = wrong_side(order.side, stops, base)
    if which is None:
        return
    buy = order.side is Side.BUY
    if which == "sl":
        name, price, direction = "StopLoss", stops.sl, "lower" if buy else "higher"
    else:
        name, price, direction = "TakeProfit", stops.tp, "higher" if buy else "lower"
    raise error(
        request,
        10001,
        f"{name}:{text(price)} set for {'Buy' if buy else 'Sell'} position should "
        f"{direction} than base_price:{text(base)}??LastPrice",
    )


def cancel_order(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    kind = _kind(request, params)
    instrument = _instrument(request, params, kind)
    order = _find(request, key, params, instrument)
    if order is None or not order.status.is_open:
        raise refuse(request, Reason.ORDER_NOT_FOUND, kind)
    request.core.engine.cancel(order)
    return ok(request, {"orderId": order.venue_id, "orderLinkId": order.client_id})


def _find(
    request: VenueRequest, key: ApiKey, params: dict[str, Any], instrument: Instrument | None
) -> Order | None:
    order_id, link_id = params.get("orderId"), params.get("orderLinkId")
    if not order_id and not link_id:
        raise error(request, 10001, "params error: orderId or orderLinkId is required")
    engine = request.core.engine
    if order_id:
        return engine.find(key, instrument, venue_id=str(order_id))
    return engine.find(key, instrument, client_id=str(link_id))


def _selected(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> list[Order]:
    kind = _kind(request, params)
    order_id, link_id = params.get("orderId"), params.get("orderLinkId")
    return request.core.engine.query(
        key,
        kind=kind,
        instrument=_instrument(request, params, kind),
        venue_id=str(order_id) if order_id else None,
        client_id=None if order_id or not link_id else str(link_id),
    )


def realtime(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    """Open orders; with an order id or link id, that order whatever its status (as on Bybit,
    which keeps the last 500 closed ones here); ``openOnly=1``: the closed ones."""
    orders = _selected(request, key, params)
    if not (params.get("orderId") or params.get("orderLinkId")):
        closed = params.get("openOnly") == "1"
        orders = [o for o in orders if o.status.is_open != closed]
    items = [shapes.order_shape(o) for o in orders[: page_size(params.get("limit"), 50)]]
    return ok(request, shapes.page(params, items))


def history(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    status = params.get("orderStatus")
    items = [shapes.order_shape(o) for o in _selected(request, key, params)]
    items = [i for i in items if status in (None, i["orderStatus"])]
    return ok(request, shapes.page(params, items[: page_size(params.get("limit"), 50)]))


def executions(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    start = int(params.get("startTime") or 0)
    fills = [(o, f) for o in _selected(request, key, params) for f in o.fills if f.time_ms >= start]
    fills.sort(key=lambda pair: pair[1].trade_id, reverse=True)
    limit = page_size(params.get("limit"), 100)
    return ok(
        request, shapes.page(params, [shapes.execution_shape(o, f) for o, f in fills[:limit]])
    )


def positions(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    kind = _kind(request, params)
    if kind is not Kind.LINEAR:
        raise error(request, 10001, "params error: category only support linear or inverse")
    instrument = _instrument(request, params, kind)
    if instrument is None and not (params.get("settleCoin") or params.get("baseCoin")):
        raise error(request, 10001, "params error: symbol or settleCoin is required")
    engine = request.core.engine
    held = [instrument] if instrument is not None else engine.open_positions(key)
    items = [shapes.position_shape(engine, key, i) for i in held if i.kind is Kind.LINEAR]
    return ok(request, shapes.page(params, items))


def trading_stop(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    """Set (or, with "0", cancel) an open position's stop loss / take profit (tpslMode Full),
    checked against the last price as an attached one is."""
    kind = _kind(request, params)
    instrument = _instrument(request, params, kind)
    if instrument is None or kind is not Kind.LINEAR:
        raise error(request, 10001, "params error: symbol invalid")
    if params.get("tpslMode") not in (None, "", "Full"):
        raise error(request, 10001, "params error: tpslMode: only Full is simulated")
    position = request.core.engine.wallet(key).position(instrument)
    if not position.qty:
        raise error(request, 10001, "can not set tp/sl/ts for zero position")
    try:
        stops = shapes.position_stops(params, position.sl, position.tp)
    except ValueError as exc:
        raise error(request, 10001, f"params error: {exc}") from exc
    side = Side.BUY if position.qty > 0 else Side.SELL
    _check_stops(request, OrderRequest(instrument=instrument, side=side, type=OrderType.MARKET,
                                       qty=abs(position.qty), stops=stops))  # fmt: skip
    position.sl, position.tp = stops.sl, stops.tp
    position.updated_ms = request.core.venue_now_ms()
    return ok(request, {})


def set_leverage(request: VenueRequest, key: ApiKey, params: dict[str, Any]) -> Response:
    kind = _kind(request, params)
    instrument = _instrument(request, params, kind)
    buy, sell = to_decimal(params.get("buyLeverage")), to_decimal(params.get("sellLeverage"))
    if instrument is None or not instrument.linear or buy is None or buy != sell or buy % 1:
        raise refuse(request, Reason.LEVERAGE_INVALID, Kind.LINEAR)
    try:
        request.core.engine.set_leverage(key, instrument, int(buy))
    except Rejected as exc:
        raise refuse(request, exc.reason, kind) from exc
    return ok(request, {})


Public = Callable[[VenueRequest, dict[str, str]], Response]
Private = Callable[[VenueRequest, ApiKey, dict[str, Any]], Response]

PUBLIC: Final[dict[tuple[str, str], Public]] = {
    ("GET", "/v5/market/time"): server_time,
    ("GET", "/v5/market/instruments-info"): instruments_info,
    ("GET", "/v5/market/tickers"): tickers,
}
#: Private routes and whether they need a key that may trade.
PRIVATE: Final[dict[tuple[str, str], tuple[Private, bool]]] = {
    ("GET", "/v5/user/query-api"): (query_api, False),
    ("GET", "/v5/account/info"): (account_info, False),
    ("GET", "/v5/account/wallet-balance"): (wallet_balance, False),
    ("POST", "/v5/order/create"): (create_order, True),
    ("POST", "/v5/order/cancel"): (cancel_order, True),
    ("GET", "/v5/order/realtime"): (realtime, False),
    ("GET", "/v5/order/history"): (history, False),
    ("GET", "/v5/execution/list"): (executions, False),
    ("GET", "/v5/position/list"): (positions, False),
    ("POST", "/v5/position/set-leverage"): (set_leverage, True),
    ("POST", "/v5/position/trading-stop"): (trading_stop, True),
}
