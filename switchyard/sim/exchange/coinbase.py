"""Coinbase Advanced Trade (``/api/v3/brokerage``): spot, CDP keys signing ES256 JWTs.

The paths ``ccxt.async_support.coinbase`` 4.5.90 calls for markets (``market/products``,
``transaction_summary``), balances (``accounts``), the key's permissions
(``key_permissions``), orders (create, ``batch_cancel``, ``historical/{id}``,
``historical/batch``) and fills, and Coinbase's error table as ccxt reads it:

- a JWT that does not hold: ``401 Unauthorized`` (text) -> AuthenticationError;
- a key without the scope (view, or trade for orders): 403 ``PERMISSION_DENIED``
  "Missing required scopes" -> PermissionDenied;
- a malformed request: 400 ``INVALID_ARGUMENT`` -> BadRequest; an unknown order: 404
  ``NOT_FOUND`` -> ExchangeError (ccxt's broad "not found" entry never matches);
- a refused order: HTTP 200 ``success: false`` with an ``error_response`` (see
  ``coinbase_shapes.order_refused``); a failed cancel: ``success: false`` in its result,
  which ccxt raises as BadRequest;
- rate limited: 429 ``rate_limit_exceeded`` -> RateLimitExceeded; maintenance: a bare 503.

A ``client_order_id`` already used by the account places nothing: Coinbase answers with
the order that has it (its SDK calls this "the intended safeguard of accidentally placing
duplicate orders"). A market buy is sized in quote currency (``quote_size``, as ccxt sends
it) or in base currency (``base_size``, which Coinbase's SDK added in v1.4). Signing is in
``coinbase_signing.py``, body shapes in ``coinbase_shapes.py``.
"""

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qs

from starlette.responses import Response

from . import coinbase_shapes as shapes
from .accounts import ApiKey
from .coinbase_shapes import error
from .coinbase_signing import authenticate
from .faults import FaultKind
from .instruments import Instrument, Kind
from .orders import Order, OrderRequest, OrderType, Reason, Rejected, Side, Status
from .venue import (
    VenueRequest,
    gateway_error,
    instruments_of,
    json_response,
    page_size,
    to_decimal,
)

NAME: Final = "coinbase"
PREFIX: Final = "/coinbase"
API: Final = "/api/v3/brokerage"
SCOPES: Final = "Missing required scopes"

SMALL: Final = "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL"
LARGE: Final = "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE"
#: (error, message, preview_failure_reason) of an order the engine refuses.
REFUSALS: Final[dict[Reason, tuple[str, str, str]]] = {
    Reason.INSUFFICIENT_FUNDS: (
        "INSUFFICIENT_FUND", "Insufficient balance in source account", "PREVIEW_INSUFFICIENT_FUND"
    ),
    Reason.QTY_TOO_SMALL: ("INVALID_SIZE", "Order size too small", SMALL),
    Reason.QTY_TOO_LARGE: ("INVALID_SIZE", "Order size too large", LARGE),
    Reason.QTY_STEP: (
        "INVALID_SIZE_PRECISION", "Too many decimals in order amount",
        "PREVIEW_INVALID_SIZE_PRECISION",
    ),
    Reason.PRICE_TICK: (
        "INVALID_PRICE_PRECISION", "Too many decimals in order price",
        "PREVIEW_INVALID_PRICE_PRECISION",
    ),
    Reason.NOTIONAL_TOO_SMALL: (
        "INVALID_SIZE", "Order value too small", "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL"
    ),
    Reason.BAD_PARAMETER: (
        "INVALID_LIMIT_PRICE_POST_ONLY", "Invalid limit price", "PREVIEW_INVALID_LIMIT_PRICE"
    ),
    Reason.UNKNOWN_SYMBOL: (
        "INVALID_PRODUCT_ID", "Invalid product_id", "UNKNOWN_PREVIEW_FAILURE_REASON"
    ),
}  # fmt: skip


class Coinbase:
    name = NAME

    def places_order(self, method: str, path: str) -> bool:
        return method == "POST" and path == f"{API}/orders"

    def order_id(self, number: int, kind: Kind) -> str:
        return str(uuid.UUID(int=(0xC0B5 << 112) | number))

    def trade_id(self, number: int) -> str:
        return str(uuid.UUID(int=(0xF111 << 112) | number))

    def rate_limited(self, kind: FaultKind, client_ip: str) -> Response:
        body = {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]}
        return json_response(body, 429)

    def maintenance(self) -> Response:
        return gateway_error(503)

    async def handle(self, request: VenueRequest) -> Response:
        route, order_id = _route(request.method, request.path)
        if route is None:
            return json_response({"error": "NOT_FOUND", "message": "Not Found"}, 404)
        handler, private, trades = route
        key = authenticate(request, PREFIX) if private else None
        if key is not None and (not key.can_read or (trades and not key.can_trade)):
            raise error(403, "PERMISSION_DENIED", SCOPES)
        params: Params = dict(parse_qs(request.query, keep_blank_values=True))
        if request.method == "POST":
            try:
                body = request.json_body()
            except json.JSONDecodeError as exc:
                raise error(400, "INVALID_ARGUMENT", "invalid JSON body") from exc
            if not isinstance(body, dict):
                raise error(400, "INVALID_ARGUMENT", "the body must be a JSON object")
            params = {"body": [body]}
        if order_id is not None:  # the id in the path: an order's, or a product's
            params["order_id"] = [order_id]
        return handler(request, key, params)


#: The query (each name's values), or ``{"body": [the JSON body]}`` for a POST.
Params = dict[str, list[Any]]
Handler = Callable[[VenueRequest, ApiKey | None, Params], Response]


def _route(method: str, path: str) -> tuple[tuple[Handler, bool, bool] | None, str | None]:
    found = ROUTES.get((method, path))
    if found is not None:
        return found, None
    stem = f"{API}/orders/historical/"
    if method == "GET" and path.startswith(stem) and "/" not in path[len(stem) :]:
        return (get_order, True, False), path[len(stem) :]
    for stem, signed in ((f"{API}/market/products/", False), (f"{API}/products/", True)):
        product_id, _, rest = path.removeprefix(stem).partition("/")
        if method == "GET" and path.startswith(stem) and rest == "ticker":
            return (ticker, signed, False), product_id
    return None, None


def _one(params: Params, name: str) -> str | None:
    values = params.get(name)
    return str(values[0]) if values else None


def _many(params: Params, *names: str) -> set[str]:
    values = [str(value) for name in names for value in params.get(name, [])]
    return {item for value in values for item in value.split(",") if item}


def _product(request: VenueRequest, product_id: object) -> Instrument | None:
    return request.core.instrument(NAME, Kind.SPOT, str(product_id or ""))


def server_time(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    now = request.core.venue_now_ms()
    if request.path.startswith("/v2/"):
        return json_response({"data": {"iso": shapes.iso(now), "epoch": now // 1000}})
    body = {"iso": shapes.iso(now), "epochSeconds": str(now // 1000), "epochMillis": str(now)}
    return json_response(body)


def products(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    if _one(params, "product_type") not in (None, "SPOT"):
        return json_response({"products": [], "num_products": 0})
    wanted = _many(params, "product_ids", "product_id")
    listed = [i for i in instruments_of(NAME) if not wanted or i.id in wanted]
    found = [shapes.product(i, request.core.engine) for i in listed]
    return json_response({"products": found, "num_products": len(found)})


def transaction_summary(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    return json_response(shapes.fee_tier())


def key_permissions(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    assert key is not None
    return json_response(shapes.permissions(key))


def accounts(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    assert key is not None
    every = shapes.accounts(request.core.engine, key, request.core.venue_now_ms())
    start = int(_one(params, "cursor") or 0)
    limit = page_size(_one(params, "limit"), 250)
    page = every[start : start + limit]
    more = start + limit < len(every)
    body = {"accounts": page, "has_next": more, "cursor": str(start + limit) if more else "",
            "size": len(page)}  # fmt: skip
    return json_response(body)


def best_bid_ask(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    wanted = _many(params, "product_ids")
    books = []
    for i in instruments_of(NAME):
        if wanted and i.id not in wanted:
            continue
        quote = request.core.engine.feed.quote(i)
        books.append({
            "product_id": i.id, "time": shapes.iso(request.core.venue_now_ms()),
            "bids": [{"price": str(quote.bid), "size": "1"}],
            "asks": [{"price": str(quote.ask), "size": "1"}],
        })  # fmt: skip
    return json_response({"pricebooks": books})


def ticker(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    """The product's last trades and its best bid and ask (``/products/{id}/ticker``)."""
    instrument = _product(request, _one(params, "order_id"))
    if instrument is None:
        raise error(404, "NOT_FOUND", "product not found")
    quote = request.core.engine.feed.quote(instrument)
    now = shapes.iso(request.core.venue_now_ms())
    trade = {
        "trade_id": "1",
        "product_id": instrument.id,
        "price": str(quote.mid.quantize(instrument.tick)),
        "size": "0.01",
        "time": now,
        "side": "BUY",
        "bid": "",
        "ask": "",
    }
    body = {"trades": [trade], "best_bid": str(quote.bid), "best_ask": str(quote.ask)}
    return json_response(body)


def create_order(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    assert key is not None
    body: dict[str, Any] = params["body"][0]
    client_id = body.get("client_order_id")
    if not isinstance(client_id, str) or not client_id:
        raise error(400, "INVALID_ARGUMENT", "client_order_id is required")
    earlier = request.core.engine.query(key, client_id=client_id)
    if earlier:  # the duplicate safeguard: nothing placed, the first order answered
        return shapes.order_created(earlier[0])
    instrument = _product(request, body.get("product_id"))
    if instrument is None:
        return shapes.order_refused(*REFUSALS[Reason.UNKNOWN_SYMBOL], body)
    try:
        order_request = _order_request(request, instrument, body, client_id)
        order = request.core.engine.place(key, order_request)
    except Rejected as exc:
        return shapes.order_refused(*REFUSALS[exc.reason], body)
    request.placed_order = True
    return shapes.order_created(order)


def _order_request(
    request: VenueRequest, instrument: Instrument, body: dict[str, Any], client_id: str
) -> OrderRequest:
    side = body.get("side")
    config = body.get("order_configuration")
    if side not in ("BUY", "SELL"):
        raise error(400, "INVALID_ARGUMENT", "side must be BUY or SELL")
    if not isinstance(config, dict) or len(config) != 1:
        raise error(400, "INVALID_ARGUMENT", "exactly one order_configuration is required")
    ((kind, spec),) = config.items()
    if not isinstance(spec, dict):
        raise error(400, "INVALID_ARGUMENT", "order_configuration is malformed")
    base, quote = to_decimal(spec.get("base_size")), to_decimal(spec.get("quote_size"))
    price = to_decimal(spec.get("limit_price"))
    order_side = Side(str(side).lower())
    if kind == "market_market_ioc":
        if (base is None) == (quote is None) or (side == "SELL" and base is None):
            message = "a market order takes base_size, or quote_size for a buy"
            raise error(400, "INVALID_ARGUMENT", message)
        return OrderRequest(
            instrument=instrument, side=order_side, client_id=client_id, type=OrderType.MARKET,
            qty=base, quote_qty=quote if base is None else None, time_in_force="IOC",
        )  # fmt: skip
    tif = {"limit_limit_gtc": "GTC", "sor_limit_ioc": "IOC", "limit_limit_fok": "FOK"}.get(kind)
    if tif is None:
        raise error(400, "INVALID_ARGUMENT", f"unsupported order_configuration {kind}")
    if base is None or price is None:
        raise error(400, "INVALID_ARGUMENT", "base_size and limit_price are required")
    if tif == "GTC" and spec.get("post_only") is True:
        book = request.core.engine.feed.quote(instrument)
        if (side == "BUY" and price >= book.ask) or (side == "SELL" and price <= book.bid):
            raise Rejected(Reason.BAD_PARAMETER, "post-only order would take")
        tif = "PO"
    return OrderRequest(
        instrument=instrument, side=order_side, client_id=client_id, type=OrderType.LIMIT,
        qty=base, price=price, time_in_force=tif,
    )  # fmt: skip


def batch_cancel(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    assert key is not None
    ids = params["body"][0].get("order_ids")
    if not isinstance(ids, list) or not ids or len(ids) > 100:
        raise error(400, "INVALID_ARGUMENT", "order_ids must list 1 to 100 order ids")
    results = []
    for order_id in map(str, ids):
        order = request.core.engine.find(key, None, venue_id=order_id)
        reason = _uncancellable(order)
        if order is not None and reason is None:
            request.core.engine.cancel(order)
        outcome = {"success": reason is None, "order_id": order_id}
        results.append({**outcome, "failure_reason": reason or "UNKNOWN_CANCEL_FAILURE_REASON"})
    return json_response({"results": results})


def _uncancellable(order: Order | None) -> str | None:
    if order is None:
        return "UNKNOWN_CANCEL_ORDER"
    if order.status is Status.FILLED:
        return "ORDER_IS_FULLY_FILLED"
    if order.status is Status.CANCELED:
        return "DUPLICATE_CANCEL_REQUEST"
    return None


def get_order(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    assert key is not None
    order = request.core.engine.find(key, None, venue_id=_one(params, "order_id") or "")
    if order is None:
        raise error(404, "NOT_FOUND", "order with this orderID was not found")
    return json_response({"order": shapes.order_shape(key, order)})


def _since(params: Params, name: str) -> int:
    raw = _one(params, name)
    if not raw:
        return 0
    try:
        return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as exc:
        raise error(400, "INVALID_ARGUMENT", f"{name} is not an RFC 3339 time") from exc


def list_orders(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    assert key is not None
    statuses = _many(params, "order_status")
    products_ = _many(params, "product_ids", "product_id")
    ids = _many(params, "order_ids")
    begin, end = _since(params, "start_date"), _since(params, "end_date")
    found = [
        o for o in request.core.engine.query(key)
        if (not statuses or shapes.STATUS[o.status] in statuses)
        and (not products_ or o.instrument.id in products_) and (not ids or o.venue_id in ids)
        and o.created_ms >= begin and (not end or o.created_ms <= end)
    ]  # fmt: skip
    start = int(_one(params, "cursor") or 0)
    limit = page_size(_one(params, "limit"), 1000)
    page = found[start : start + limit]
    more = start + limit < len(found)
    body = {"orders": [shapes.order_shape(key, o) for o in page], "sequence": "0",
            "has_next": more, "cursor": str(start + limit) if more else ""}  # fmt: skip
    return json_response(body)


def fills(request: VenueRequest, key: ApiKey | None, params: Params) -> Response:
    assert key is not None
    products_ = _many(params, "product_ids", "product_id")
    ids = _many(params, "order_ids", "order_id")
    begin = _since(params, "start_sequence_timestamp")
    end = _since(params, "end_sequence_timestamp")
    found = [
        (o, f) for o, f in request.core.engine.fills_of(key)
        if (not products_ or o.instrument.id in products_) and (not ids or o.venue_id in ids)
        and f.time_ms >= begin and (not end or f.time_ms <= end)
    ][::-1]  # fmt: skip
    start = int(_one(params, "cursor") or 0)
    limit = page_size(_one(params, "limit"), 1000)
    page = found[start : start + limit]
    more = start + limit < len(found)
    body = {"fills": [shapes.fill_shape(key, o, f) for o, f in page],
            "cursor": str(start + limit) if more else ""}  # fmt: skip
    return json_response(body)


#: (method, path) -> (handler, signed, needs a key that may trade).
ROUTES: Final[dict[tuple[str, str], tuple[Handler, bool, bool]]] = {
    ("GET", f"{API}/time"): (server_time, False, False),
    ("GET", "/v2/time"): (server_time, False, False),
    ("GET", f"{API}/market/products"): (products, False, False),
    ("GET", f"{API}/products"): (products, True, False),
    ("GET", f"{API}/transaction_summary"): (transaction_summary, True, False),
    ("GET", f"{API}/key_permissions"): (key_permissions, True, False),
    ("GET", f"{API}/accounts"): (accounts, True, False),
    ("GET", f"{API}/best_bid_ask"): (best_bid_ask, True, False),
    ("POST", f"{API}/orders"): (create_order, True, True),
    ("POST", f"{API}/orders/batch_cancel"): (batch_cancel, True, True),
    ("GET", f"{API}/orders/historical/batch"): (list_orders, True, False),
    ("GET", f"{API}/orders/historical/fills"): (fills, True, False),
}
