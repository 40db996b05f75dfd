"""Binance spot body shapes: exchangeInfo, the account, key restrictions, orders and trades,
as Binance's spot REST docs and ccxt's fixtures (``markets/binance.json``,
``response/binance.json``) show them. Amounts print with 8 decimals, as Binance does."""

from decimal import Decimal
from typing import Any

from .accounts import ApiKey
from .instruments import Instrument
from .orders import Fill, Order, Side, Status
from .venue import Reply, instruments_of, json_response, text
from .wallet import Wallet

REJECTED_KEY = (401, -2015, "Invalid API-key, IP, or permissions for action.")
RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]


def error(status: int, code: int, message: str) -> Reply:
    return Reply(json_response({"code": code, "msg": message}, status))


def missing(name: str) -> Reply:
    message = f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    return error(400, -1102, message)


def n8(value: Decimal | int | float) -> str:
    return text(Decimal(str(value)), 8)


def exchange_info(now_ms: int, symbol: str | None) -> dict[str, Any]:
    listed = [i for i in instruments_of("binance") if symbol in (None, i.id)]
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": RATE_LIMITS,
        "exchangeFilters": [],
        "symbols": [symbol_shape(i) for i in listed],
    }


def symbol_shape(i: Instrument) -> dict[str, Any]:
    """One symbol: ccxt's createOrder checks ``orderTypes``, its parser reads ``filters``."""
    return {
        "symbol": i.id, "status": "TRADING", "baseAsset": i.base, "baseAssetPrecision": 8,
        "quoteAsset": i.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
        "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": n8(i.tick), "maxPrice": n8(1_000_000),
             "tickSize": n8(i.tick)},
            {"filterType": "LOT_SIZE", "minQty": n8(i.min_qty), "maxQty": n8(i.max_qty),
             "stepSize": n8(i.step)},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": n8(0), "maxQty": n8(100),
             "stepSize": n8(0)},
            {"filterType": "NOTIONAL", "minNotional": n8(i.min_notional), "applyMinToMarket": True,
             "maxNotional": n8(9_000_000), "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }  # fmt: skip


def account(key: ApiKey, wallet: Wallet, now_ms: int) -> dict[str, Any]:
    balances = [
        {"asset": asset, "free": n8(b.free), "locked": n8(b.locked)}
        for asset, b in sorted(wallet.balances.items())
    ]
    rates = {"maker": n8(0.001), "taker": n8(0.001), "buyer": n8(0), "seller": n8(0)}
    return {
        "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
        "sellerCommission": 0, "commissionRates": rates, "canTrade": key.can_trade,
        "canWithdraw": key.can_withdraw, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now_ms,
        "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"],
        "uid": 354_900_000 + sum(map(ord, key.account)),
    }  # fmt: skip


def api_restrictions(key: ApiKey) -> dict[str, Any]:
    return {
        "ipRestrict": bool(key.ip_whitelist), "createTime": key.created_ms,
        "enableReading": key.can_read, "enableWithdrawals": key.can_withdraw,
        "enableInternalTransfer": False, "enableMargin": False, "enableFutures": False,
        "permitsUniversalTransfer": False, "enableVanillaOptions": False,
        "enableFixApiTrade": False, "enableFixReadOnly": False,
        "enableSpotAndMarginTrading": key.can_trade, "enablePortfolioMarginTrading": False,
    }  # fmt: skip


def status(order: Order) -> str:
    if order.status is Status.CANCELED and order.time_in_force in ("IOC", "FOK"):
        return "EXPIRED"
    return {Status.NEW: "NEW", Status.FILLED: "FILLED", Status.CANCELED: "CANCELED"}[order.status]


def order_shape(order: Order, *, full: bool = False) -> dict[str, Any]:
    """GET order / openOrders shape, or with ``full`` the POST order (FULL) one."""
    shape: dict[str, Any] = {
        "symbol": order.instrument.id, "orderId": int(order.venue_id), "orderListId": -1,
        "clientOrderId": order.client_id, "price": n8(order.price or 0),
        "origQty": n8(order.qty), "executedQty": n8(order.filled),
        "origQuoteOrderQty": n8(order.quote_qty or 0),
        "cummulativeQuoteQty": n8(order.filled_value), "status": status(order),
        "timeInForce": order.time_in_force, "type": order.type.upper(),
        "side": order.side.upper(), "workingTime": order.created_ms,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }  # fmt: skip
    if full:
        shape["transactTime"] = order.created_ms
        shape["fills"] = [
            {"price": n8(f.price), "qty": n8(f.qty), "commission": n8(f.fee),
             "commissionAsset": f.fee_asset, "tradeId": int(f.venue_id)}
            for f in order.fills
        ]  # fmt: skip
    else:
        shape.update(
            stopPrice=n8(0), icebergQty=n8(0), time=order.created_ms,
            updateTime=order.updated_ms, isWorking=order.status.is_open,
        )  # fmt: skip
    return shape


def canceled_shape(order: Order, cancel_id: str) -> dict[str, Any]:
    """DELETE order: ``clientOrderId`` is the cancel request's own id, as on Binance."""
    shape = order_shape(order, full=True)
    del shape["fills"], shape["workingTime"]
    shape["origClientOrderId"] = order.client_id
    shape["clientOrderId"] = cancel_id
    return shape


def trade_shape(order: Order, fill: Fill) -> dict[str, Any]:
    return {
        "symbol": order.instrument.id, "id": int(fill.venue_id), "orderId": int(order.venue_id),
        "orderListId": -1, "price": n8(fill.price), "qty": n8(fill.qty),
        "quoteQty": n8(fill.price * fill.qty), "commission": n8(fill.fee),
        "commissionAsset": fill.fee_asset, "time": fill.time_ms,
        "isBuyer": order.side is Side.BUY, "isMaker": fill.maker, "isBestMatch": True,
    }  # fmt: skip
