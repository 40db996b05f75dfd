"""Coinbase Advanced Trade body shapes: products, accounts, key permissions, orders, fills.

As Coinbase's API reference, its SDK (coinbase-advanced-py) and ccxt's static fixtures
(``markets/coinbase.json``, ``response/coinbase.json``) show them. Ids are UUIDs; times
ISO 8601 with microseconds; amounts decimal strings; fees in quote currency.
"""

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from .accounts import ApiKey
from .engine import Engine
from .instruments import Instrument
from .orders import Fill, Order, OrderType, Side, Status
from .venue import Reply, json_response, text

STATUS = {Status.NEW: "OPEN", Status.FILLED: "FILLED", Status.CANCELED: "CANCELLED"}
TIME_IN_FORCE = {"GTC": "GOOD_UNTIL_CANCELLED", "IOC": "IMMEDIATE_OR_CANCEL",
                 "FOK": "FILL_OR_KILL"}  # fmt: skip
NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum", "USDT": "Tether", "USDC": "USDC"}


def error(status: int, code: str, message: str) -> Reply:
    """Coinbase's error body: ``error`` is what ccxt matches (``INVALID_ARGUMENT`` ->
    BadRequest, ``PERMISSION_DENIED`` -> PermissionDenied, ``NOT_FOUND`` -> ExchangeError)."""
    body = {"error": code, "error_details": message, "message": message}
    return Reply(json_response(body, status))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _uuid(*parts: object) -> str:
    name = "switchyard-sim-coinbase:" + ":".join(map(str, parts))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def portfolio(key: ApiKey) -> str:
    return _uuid("portfolio", key.account)


def product(i: Instrument, engine: Engine) -> dict[str, Any]:
    price = engine.feed.quote(i).mid.quantize(i.tick)
    return {
        "product_id": i.id, "price": text(price), "price_percentage_change_24h": "0",
        "volume_24h": "1000", "volume_percentage_change_24h": "0",
        "base_increment": text(i.step), "quote_increment": text(i.tick),
        "quote_min_size": text(i.min_notional), "quote_max_size": text(i.max_value),
        "base_min_size": text(i.min_qty), "base_max_size": text(i.max_qty),
        "base_name": NAMES.get(i.base, i.base), "quote_name": NAMES.get(i.quote, i.quote),
        "watched": False, "is_disabled": False, "new": False, "status": "online",
        "cancel_only": False, "limit_only": False, "post_only": False,
        "trading_disabled": False, "auction_mode": False, "product_type": "SPOT",
        "quote_currency_id": i.quote, "base_currency_id": i.base,
        "fcm_trading_session_details": None, "mid_market_price": "", "alias": "",
        "alias_to": [], "base_display_symbol": i.base, "quote_display_symbol": i.quote,
        "view_only": False, "price_increment": text(i.tick), "display_name": i.id,
        "product_venue": "CBE", "approximate_quote_24h_volume": "1000000",
        "new_at": "2023-01-01T00:00:00Z",
    }  # fmt: skip


def fee_tier() -> dict[str, Any]:
    """Intro 1, the tier of an account that has traded under 1,000 USD this month."""
    return {
        "total_volume": 0, "total_fees": 0,
        "fee_tier": {"pricing_tier": "Intro 1", "usd_from": "0", "usd_to": "1000",
                     "taker_fee_rate": "0.012", "maker_fee_rate": "0.006",
                     "aop_from": "", "aop_to": ""},
        "margin_rate": None, "goods_and_services_tax": None,
        "advanced_trade_only_volume": 0, "advanced_trade_only_fees": 0,
        "coinbase_pro_volume": 0, "coinbase_pro_fees": 0, "total_balance": "",
        "has_promo_fee": False,
    }  # fmt: skip


def permissions(key: ApiKey) -> dict[str, Any]:
    return {
        "can_view": key.can_read,
        "can_trade": key.can_trade,
        "can_transfer": key.can_withdraw,
        "portfolio_uuid": portfolio(key),
        "portfolio_type": "DEFAULT",
    }


def accounts(engine: Engine, key: ApiKey, now_ms: int) -> list[dict[str, Any]]:
    """One wallet per currency the account holds (Coinbase lists its wallets, empty ones too)."""
    wallet = engine.wallet(key)
    found = []
    for asset, balance in sorted(wallet.balances.items()):
        found.append({
            "uuid": _uuid("account", key.account, asset), "name": f"{asset} Wallet",
            "currency": asset,
            "available_balance": {"value": text(balance.free), "currency": asset},
            "default": asset == "USDC", "active": True,
            "created_at": iso(key.created_ms), "updated_at": iso(now_ms), "deleted_at": None,
            "type": "ACCOUNT_TYPE_CRYPTO", "ready": True,
            "hold": {"value": text(balance.locked), "currency": asset},
            "retail_portfolio_id": portfolio(key), "platform": "ACCOUNT_PLATFORM_CONSUMER",
        })  # fmt: skip
    return found


def configuration(o: Order) -> dict[str, Any]:
    """The order's ``order_configuration`` as Coinbase echoes it."""
    if o.type is OrderType.MARKET:
        size = {"quote_size": text(o.quote_qty)} if o.quote_qty else {"base_size": text(o.qty)}
        return {"market_market_ioc": size}
    sized = {"base_size": text(o.qty), "limit_price": text(o.price)}
    if o.time_in_force == "IOC":
        return {"sor_limit_ioc": sized}
    if o.time_in_force == "FOK":
        return {"limit_limit_fok": sized}
    return {"limit_limit_gtc": {**sized, "post_only": o.time_in_force == "PO"}}


def order_shape(key: ApiKey, o: Order) -> dict[str, Any]:
    i = o.instrument
    value = o.filled_value
    held = o.locked if o.status.is_open else Decimal(0)
    after_fees = value + o.fee if o.side is Side.BUY else value - o.fee
    last = o.fills[-1] if o.fills else None
    done = o.qty if o.qty else Decimal(1)
    return {
        "order_id": o.venue_id, "product_id": i.id, "user_id": _uuid("user", key.account),
        "order_configuration": configuration(o), "side": o.side.upper(),
        "client_order_id": o.client_id, "status": STATUS[o.status],
        "time_in_force": TIME_IN_FORCE.get(o.time_in_force, "GOOD_UNTIL_CANCELLED"),
        "created_time": iso(o.created_ms),
        "completion_percentage": f"{o.filled / done * 100:.2f}",
        "filled_size": text(o.filled), "average_filled_price": text(o.average or Decimal(0)),
        "fee": "", "number_of_fills": str(len(o.fills)), "filled_value": text(value),
        "pending_cancel": False, "size_in_quote": o.quote_qty is not None,
        "total_fees": text(o.fee), "size_inclusive_of_fees": o.quote_qty is not None,
        "total_value_after_fees": text(after_fees), "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": o.type.upper(), "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": not o.status.is_open, "product_type": "SPOT", "reject_message": "",
        "cancel_message": "User requested cancel" if o.status is Status.CANCELED else "",
        "order_placement_source": "RETAIL_ADVANCED", "outstanding_hold_amount": text(held),
        "is_liquidation": False, "last_fill_time": iso(last.time_ms) if last else None,
        "edit_history": [], "leverage": "", "margin_type": "UNKNOWN_MARGIN_TYPE",
        "retail_portfolio_id": portfolio(key),
    }  # fmt: skip


def fill_shape(key: ApiKey, o: Order, f: Fill) -> dict[str, Any]:
    return {
        "entry_id": _uuid("entry", f.venue_id).replace("-", ""), "trade_id": f.venue_id,
        "order_id": o.venue_id, "trade_time": iso(f.time_ms), "trade_type": "FILL",
        "price": text(f.price), "size": text(f.qty), "commission": text(f.fee),
        "product_id": o.instrument.id, "sequence_timestamp": iso(f.time_ms),
        "liquidity_indicator": "MAKER" if f.maker else "TAKER", "size_in_quote": False,
        "user_id": _uuid("user", key.account), "side": o.side.upper(),
        "retail_portfolio_id": portfolio(key),
    }  # fmt: skip


def order_created(o: Order) -> Response:
    return json_response({
        "success": True,
        "success_response": {"order_id": o.venue_id, "product_id": o.instrument.id,
                             "side": o.side.upper(), "client_order_id": o.client_id,
                             "attached_order_id": ""},
        "order_configuration": configuration(o),
    })  # fmt: skip


def order_refused(code: str, message: str, preview: str, body: dict[str, Any]) -> Response:
    """A refused order: HTTP 200, ``success`` false and an ``error_response``; ccxt's
    ``handle_errors`` matches its ``preview_failure_reason`` (PREVIEW_INSUFFICIENT_FUND ->
    InsufficientFunds; the others -> ExchangeError, the body in its message)."""
    return json_response({
        "success": False,
        "error_response": {"error": code, "message": message, "error_details": message,
                           "preview_failure_reason": preview,
                           "new_order_failure_reason": code},
        "order_configuration": body.get("order_configuration"),
    })  # fmt: skip
