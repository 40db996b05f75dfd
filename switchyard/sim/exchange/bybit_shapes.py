"""Bybit v5 body shapes: instruments, the key's info, the unified wallet, orders, executions
and positions, as Bybit's v5 docs and ccxt's fixtures and parsers show them."""

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from .accounts import ApiKey
from .engine import Engine
from .instruments import Instrument, Kind
from .orders import Attached, Fill, Order, OrderRequest, OrderType, Side, Status
from .venue import Reply, VenueRequest, instruments_of, json_response, text, to_decimal

ZERO = Decimal(0)
LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
STATUS = {Status.NEW: "New", Status.FILLED: "Filled", Status.CANCELED: "Cancelled"}
#: How Bybit names an order it placed when a position's stop was reached.
TRIGGERED = {"sl": ("StopLoss", "CreateByStopLoss"), "tp": ("TakeProfit", "CreateByTakeProfit")}


def envelope(result: object, code: int = 0, message: str = "OK", now: int = 0) -> dict[str, Any]:
    return {"retCode": code, "retMsg": message, "result": result, "retExtInfo": {}, "time": now}


def error(request: VenueRequest, code: int, message: str, status: int = 200) -> Reply:
    return Reply(json_response(envelope({}, code, message, request.core.venue_now_ms()), status))


def ok(request: VenueRequest, result: object) -> Response:
    return json_response(envelope(result, now=request.core.venue_now_ms()))


def uuid_of(kind: str, number: int) -> str:
    digest = hashlib.blake2b(f"bybit:{kind}:{number}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def listed_instruments(kind: Kind) -> list[Instrument]:
    return instruments_of("bybit", kind)


def instrument_shape(i: Instrument) -> dict[str, Any]:
    if i.kind is Kind.SPOT:
        return {
            "symbol": i.id, "baseCoin": i.base, "quoteCoin": i.quote, "innovation": "0",
            "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
            "lotSizeFilter": {
                "basePrecision": text(i.step), "quotePrecision": "0.0000001",
                "minOrderQty": text(i.min_qty), "maxOrderQty": text(i.max_qty),
                "minOrderAmt": text(i.min_notional), "maxOrderAmt": "8000000",
            },
            "priceFilter": {"tickSize": text(i.tick)},
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        }  # fmt: skip
    return {
        "symbol": i.id, "contractType": "LinearPerpetual", "status": "Trading",
        "baseCoin": i.base, "quoteCoin": i.quote, "launchTime": "1584230400000",
        "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
        "leverageFilter": {
            "minLeverage": "1", "maxLeverage": f"{i.max_leverage}.00", "leverageStep": "0.01",
        },
        "priceFilter": {
            "minPrice": text(i.tick), "maxPrice": "1999999.80", "tickSize": text(i.tick),
        },
        "lotSizeFilter": {
            "maxOrderQty": text(i.max_qty), "minOrderQty": text(i.min_qty), "qtyStep": text(i.step),
            "postOnlyMaxOrderQty": text(i.max_qty), "maxMktOrderQty": text(i.max_qty / 10),
            "minNotionalValue": text(i.min_notional),
        },
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": i.quote,
        "copyTrading": "both", "upperFundingRate": "0.005", "lowerFundingRate": "-0.005",
        "isPreListing": False, "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        "displayName": "",
    }  # fmt: skip


def key_info(key: ApiKey) -> dict[str, Any]:
    trade = key.can_trade
    created = datetime.fromtimestamp(key.created_ms / 1000, UTC)
    wallet = ["AccountTransfer", "SubMemberTransfer"] + (["Withdraw"] if key.can_withdraw else [])
    return {
        "id": str(10_000_000 + sum(map(ord, key.api_key))),
        "note": key.label or "switchyard simulator",
        "apiKey": key.api_key,
        "readOnly": 0 if trade else 1,
        "secret": "",
        "permissions": {
            "ContractTrade": ["Order", "Position"] if trade else [],
            "Spot": ["SpotTrade"] if trade else [],
            "Wallet": wallet if trade or key.can_withdraw else [],
            "Options": ["OptionsTrade"] if trade else [],
            "Derivatives": ["DerivativesTrade"] if trade else [],
            **{group: [] for group in ("CopyTrading", "BlockTrade", "Exchange", "NFT")},
            **{group: [] for group in ("Affiliate", "Earn")},
        },
        "ips": list(key.ip_whitelist) or ["*"],
        "type": 1,
        "deadlineDay": -1 if key.ip_whitelist else 90,
        "expiredAt": ""
        if key.ip_whitelist
        else (created + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "createdAt": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "unified": 0,
        "uta": 1,
        "userID": 24_600_000 + sum(map(ord, key.account)),
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": True,
        "parentUid": "0",
        "kycLevel": "LEVEL_DEFAULT",
        "kycRegion": "",
    }


def account_info(now_ms: int) -> dict[str, Any]:
    return {
        "unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False,
        "spotHedgingStatus": "OFF", "updatedTime": str(now_ms), "dcpStatus": "OFF",
        "timeWindow": 10, "smpGroup": 0,
    }  # fmt: skip


def wallet(engine: Engine, key: ApiKey, wanted: set[str] | None) -> dict[str, Any]:
    account = engine.wallet(key)
    held = engine.open_positions(key)
    marks = engine.marks(held)
    position_im = account.position_margin(marks)
    order_im = engine.order_margin(key)
    upl = account.unrealized(marks)
    coins, total_usd = [], ZERO
    for asset, balance in sorted(account.balances.items()):
        usd = (
            ZERO if asset == "USDT" else engine.feed.mid(asset) if asset in ("BTC", "ETH") else ZERO
        )
        is_settle = asset == "USDT"
        equity = balance.total + (upl if is_settle else ZERO)
        value = equity if is_settle else equity * usd
        total_usd += value
        if wanted is not None and asset not in wanted:
            continue
        free = balance.free - (position_im + order_im if is_settle else ZERO)
        coins.append({
            "coin": asset, "equity": text(equity), "usdValue": text(value),
            "walletBalance": text(balance.total), "locked": text(balance.locked),
            "availableToWithdraw": text(max(free, ZERO)), "availableToBorrow": "",
            "borrowAmount": "0", "accruedInterest": "0", "bonus": "0",
            "totalOrderIM": text(order_im if is_settle else ZERO),
            "totalPositionIM": text(position_im if is_settle else ZERO), "totalPositionMM": "0",
            "unrealisedPnl": text(upl if is_settle else ZERO), "cumRealisedPnl": "0",
            "collateralSwitch": True, "marginCollateral": True, "spotHedgingQty": "0",
        })  # fmt: skip
    available = max(engine.available_margin(key), ZERO)
    return {
        "accountType": "UNIFIED", "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0",
        "totalEquity": text(total_usd), "totalWalletBalance": text(total_usd - upl),
        "totalMarginBalance": text(total_usd), "totalAvailableBalance": text(available),
        "totalPerpUPL": text(upl), "totalInitialMargin": text(position_im + order_im),
        "totalMaintenanceMargin": "0", "coin": coins,
    }  # fmt: skip


def order_shape(o: Order) -> dict[str, Any]:
    linear = o.instrument.kind is Kind.LINEAR
    remaining = o.remaining
    shape: dict[str, Any] = {
        "orderId": o.venue_id, "orderLinkId": o.client_id, "blockTradeId": "",
        "symbol": o.instrument.id, "price": text(o.price or ZERO),
        "qty": text(o.quote_qty if o.quote_qty is not None else o.qty),
        "side": o.side.capitalize(), "isLeverage": "", "positionIdx": 0,
        "orderStatus": STATUS[o.status], "createType": _created_by(o),
        "cancelType": "CancelByUser" if o.status is Status.CANCELED else "UNKNOWN",
        "rejectReason": "EC_NoError", "avgPrice": text(o.average or ZERO),
        "leavesQty": text(remaining), "leavesValue": text(remaining * (o.price or ZERO)),
        "cumExecQty": text(o.filled), "cumExecValue": text(o.filled_value),
        "cumExecFee": text(o.fee), "cumFeeDetail": {o.fee_asset: text(o.fee)} if o.fee else {},
        "timeInForce": o.time_in_force, "orderType": o.type.capitalize(),
        "stopOrderType": TRIGGERED[o.trigger][0] if o.trigger else "", "orderIv": "",
        "triggerPrice": "", "takeProfit": _price(o.stops.tp), "stopLoss": _price(o.stops.sl),
        "tpLimitPrice": "", "slLimitPrice": "", "tpTriggerBy": "", "slTriggerBy": "",
        "triggerDirection": 0, "triggerBy": "", "lastPriceOnCreated": text(o.price or ZERO),
        "reduceOnly": o.reduce_only, "closeOnTrigger": False, "placeType": "", "smpType": "None",
        "smpGroup": 0, "smpOrderId": "", "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
    }  # fmt: skip
    if linear:
        shape["tpslMode"] = "Full" if o.stops else "UNKNOWN"
    else:
        quote_unit = o.quote_qty is not None and o.type is OrderType.MARKET
        shape["marketUnit"] = "quoteCoin" if quote_unit else "baseCoin"
    return shape


def execution_shape(o: Order, f: Fill) -> dict[str, Any]:
    rate = o.instrument.maker_fee if f.maker else o.instrument.taker_fee
    shape: dict[str, Any] = {
        "symbol": o.instrument.id, "orderType": o.type.capitalize(), "underlyingPrice": "",
        "orderLinkId": o.client_id, "side": o.side.capitalize(), "indexPrice": "",
        "orderId": o.venue_id, "leavesQty": text(o.remaining),
        "stopOrderType": TRIGGERED[o.trigger][0] if o.trigger else "UNKNOWN",
        "execTime": str(f.time_ms), "isMaker": f.maker, "execFee": text(f.fee),
        "feeRate": text(rate), "execId": f.venue_id, "tradeIv": "", "blockTradeId": "",
        "markPrice": text(f.price), "execPrice": text(f.price), "markIv": "",
        "orderQty": text(o.qty), "orderPrice": text(o.price or ZERO),
        "execValue": text(o.instrument.base_qty(f.qty) * f.price), "execType": "Trade",
        "execQty": text(f.qty), "seq": f.trade_id,
    }  # fmt: skip
    if o.instrument.kind is Kind.LINEAR:
        shape.update(closedSize=text(f.qty) if f.realized_pnl else "0", createType=_created_by(o))
        shape["execPnl"] = text(f.realized_pnl)
    else:
        shape.update(closedSize="", feeCurrency=f.fee_asset)
    return shape


def position_shape(engine: Engine, key: ApiKey, instrument: Instrument) -> dict[str, Any]:
    account = engine.wallet(key)
    position = account.position(instrument)
    mark = engine.feed.mid(instrument.base)
    leverage = account.leverage_of(instrument)
    size = abs(position.qty)
    value = position.notional(mark) if size else ZERO
    side = "" if not size else "Buy" if position.qty > 0 else "Sell"
    entry_value = size * position.entry_price
    return {
        "positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": instrument.id,
        "side": side, "size": text(size), "avgPrice": text(position.entry_price),
        "positionValue": text(entry_value), "tradeMode": 0, "positionStatus": "Normal",
        "autoAddMargin": 0, "adlRankIndicator": 2 if size else 0, "leverage": str(leverage),
        "positionBalance": text(entry_value / leverage), "markPrice": text(mark),
        "liqPrice": "", "bustPrice": "", "positionMM": text(value * Decimal("0.005")),
        "positionIM": text(value / leverage), "tpslMode": "Full",
        "takeProfit": text(position.tp) if size and position.tp else "0",
        "stopLoss": text(position.sl) if size and position.sl else "0", "trailingStop": "0",
        "unrealisedPnl": text(position.unrealized_pnl(mark) if size else ZERO),
        "curRealisedPnl": text(position.realized_pnl),
        "cumRealisedPnl": text(position.realized_pnl),
        "seq": 0, "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "",
        "sessionAvgPrice": "", "createdTime": str(position.created_ms),
        "updatedTime": str(position.updated_ms),
    }  # fmt: skip


def order_request(params: dict[str, Any], instrument: Instrument, now_ms: int) -> OrderRequest:
    """POST /v5/order/create's body as an order; ValueError names what is malformed.

    A spot market Buy's ``qty`` is in quote currency unless ``marketUnit`` is ``baseCoin``
    (ccxt sends it explicitly); an ``orderLinkId`` is unique for ever on Bybit.
    """
    side, order_type = params.get("side"), params.get("orderType")
    if side not in ("Buy", "Sell") or order_type not in ("Market", "Limit"):
        raise ValueError("side or orderType invalid")
    link_id = str(params.get("orderLinkId") or "")
    if link_id and not LINK_ID.match(link_id):
        raise ValueError("orderLinkId is invalid")
    qty = to_decimal(params.get("qty"))
    if qty is None or qty <= 0:
        raise ValueError("qty invalid")
    spot = instrument.kind is Kind.SPOT
    default_unit = "quoteCoin" if spot and side == "Buy" else "baseCoin"
    in_quote = (
        order_type == "Market" and spot and params.get("marketUnit", default_unit) == "quoteCoin"
    )
    tif = str(params.get("timeInForce") or "GTC")
    stops = _attached(params, spot)
    return OrderRequest(
        instrument=instrument,
        side=Side(str(side).lower()),
        type=OrderType(str(order_type).lower()),
        qty=None if in_quote else qty,
        quote_qty=qty if in_quote else None,
        price=to_decimal(params.get("price")) if order_type == "Limit" else None,
        client_id=link_id or uuid_of("link", now_ms),
        reduce_only=not spot and params.get("reduceOnly") in (True, "true"),
        time_in_force="IOC" if order_type == "Market" else tif if tif in ("IOC", "FOK") else "GTC",
        client_id_unique_forever=True,
        stops=stops,
    )


def _attached(params: dict[str, Any], spot: bool) -> Attached:
    """``stopLoss`` / ``takeProfit`` (trigger prices, tpslMode Full, filled at market)."""
    raw_sl, raw_tp = params.get("stopLoss"), params.get("takeProfit")
    if raw_sl in (None, "") and raw_tp in (None, ""):
        return Attached()
    if spot:
        raise ValueError("stopLoss and takeProfit are simulated on linear orders only")
    if params.get("tpslMode") not in (None, "", "Full"):
        raise ValueError("tpslMode: only Full is simulated")
    sl = None if raw_sl in (None, "") else to_decimal(raw_sl)
    tp = None if raw_tp in (None, "") else to_decimal(raw_tp)
    if (raw_sl not in (None, "") and sl is None) or (raw_tp not in (None, "") and tp is None):
        raise ValueError("stopLoss or takeProfit invalid")
    return Attached(sl=sl, tp=tp)


def position_stops(params: dict[str, Any], sl: Decimal | None, tp: Decimal | None) -> Attached:
    """/v5/position/trading-stop's stops over the position's: a field left out keeps its
    stop, "0" cancels it; ValueError names what is malformed."""
    found = []
    for field, current in (("stopLoss", sl), ("takeProfit", tp)):
        raw = params.get(field)
        if raw in (None, ""):
            found.append(current)
            continue
        value = to_decimal(raw)
        if value is None or value < 0:
            raise ValueError(f"{field} invalid")
        found.append(value or None)
    return Attached(sl=found[0], tp=found[1])


def _price(value: Decimal | None) -> str:
    return "" if value is None else text(value)


def _created_by(o: Order) -> str:
    return TRIGGERED[o.trigger][1] if o.trigger else "CreateByUser"


def page(params: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"category": params.get("category", ""), "list": items, "nextPageCursor": ""}
