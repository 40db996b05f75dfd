"""OKX v5 body shapes: instruments, account config, balance, orders, fills and positions,
as OKX's v5 docs and ccxt's fixtures (``markets/okx.json``) and parsers show them.
Fees are negative numbers (what is charged), as OKX prints them."""

import re
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from .accounts import ApiKey
from .engine import Engine
from .instruments import Instrument, Kind
from .orders import Fill, Order, OrderRequest, OrderType, Reason, Rejected, Side, Status
from .venue import Reply, instruments_of, json_response, text, to_decimal

ZERO = Decimal(0)
CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
ORDER_TYPES = ("market", "limit", "ioc", "fok", "post_only")
STATE = {Status.NEW: "live", Status.FILLED: "filled", Status.CANCELED: "canceled"}


def error(code: str, message: str, status: int = 200) -> Reply:
    return Reply(json_response({"msg": message, "code": code}, status))


def auth_error(code: str, message: str) -> Reply:
    return error(code, message, 401)


def ok(data: list[Any]) -> Response:
    return json_response({"code": "0", "msg": "", "data": data})


def listed(kind: Kind) -> list[Instrument]:
    return instruments_of("okx", kind)


def inst_type(i: Instrument) -> str:
    return "SWAP" if i.linear else "SPOT"


def instrument_shape(i: Instrument) -> dict[str, Any]:
    swap = i.linear
    return {
        "alias": "", "baseCcy": "" if swap else i.base, "category": "1",
        "ctMult": "1" if swap else "", "ctType": "linear" if swap else "",
        "ctVal": text(i.contract_value) if swap else "", "ctValCcy": i.base if swap else "",
        "expTime": "", "instFamily": f"{i.base}-{i.quote}" if swap else "", "instId": i.id,
        "instType": inst_type(i), "lever": str(i.max_leverage if swap else 10),
        "listTime": "1611916828000", "lotSz": text(i.step), "maxIcebergSz": "9999999999",
        "maxLmtAmt": "20000000", "maxLmtSz": text(i.max_qty), "maxMktAmt": "1000000",
        "maxMktSz": "12000" if swap else "1000000", "maxStopSz": "12000",
        "maxTriggerSz": text(i.max_qty), "maxTwapSz": text(i.max_qty), "minSz": text(i.min_qty),
        "optType": "", "quoteCcy": "" if swap else i.quote, "ruleType": "normal",
        "settleCcy": i.quote if swap else "", "state": "live", "stk": "",
        "tickSz": text(i.tick), "uly": f"{i.base}-{i.quote}" if swap else "",
    }  # fmt: skip


def config(key: ApiKey) -> dict[str, Any]:
    perm = ",".join(
        ["read_only"]
        + (["withdraw"] if key.can_withdraw else [])
        + (["trade"] if key.can_trade else [])
    )
    uid = str(44_705_892_343_619_584 + sum(map(ord, key.account)))
    return {
        "acctLv": "2", "autoLoan": False, "ctIsoMode": "automatic", "enableSpotBorrow": False,
        "greeksType": "PA", "ip": ",".join(key.ip_whitelist), "kycLv": "2",
        "label": key.label or "switchyard simulator", "level": "Lv1", "levelTmp": "",
        "liquidationGear": "-1", "mainUid": uid, "mgnIsoMode": "automatic", "opAuth": "0",
        "perm": perm, "posMode": "net_mode", "roleType": "0", "spotBorrowAutoRepay": False,
        "spotOffsetType": "", "spotRoleType": "0", "spotTraderInsts": [], "traderInsts": [],
        "type": "0", "uid": uid, "settleCcy": "USDT", "settleCcyList": ["USD", "USDC", "USDG"],
        "stgyType": "0",
    }  # fmt: skip


def balance(engine: Engine, key: ApiKey, wanted: set[str] | None, now_ms: int) -> dict[str, Any]:
    account = engine.wallet(key)
    held = engine.open_positions(key)
    marks = engine.marks(held)
    margin = account.position_margin(marks) + engine.order_margin(key)
    upl = account.unrealized(marks)
    details, total = [], ZERO
    for asset, entry in sorted(account.balances.items()):
        usd = (
            Decimal(1)
            if asset == "USDT"
            else engine.feed.mid(asset)
            if asset in ("BTC", "ETH")
            else ZERO
        )
        settle = asset == "USDT"
        equity = entry.total + (upl if settle else ZERO)
        total += equity * usd
        if (wanted is not None and asset not in wanted) or (wanted is None and not equity):
            continue
        held_back = entry.locked + (margin if settle else ZERO)
        details.append({
            "availBal": text(max(entry.free - (margin if settle else ZERO), ZERO)),
            "availEq": "", "cashBal": text(entry.total), "ccy": asset, "crossLiab": "",
            "disEq": text(equity * usd),
            "eq": text(equity), "eqUsd": text(equity * usd), "fixedBal": "0",
            "frozenBal": text(held_back), "imr": text(margin) if settle else "0", "interest": "",
            "isoEq": "0", "isoLiab": "", "isoUpl": "0", "liab": "", "maxLoan": "",
            "mgnRatio": "", "mmr": "0", "notionalLever": "0", "ordFrozen": text(entry.locked),
            "spotInUseAmt": "", "stgyEq": "0", "twap": "0", "uTime": str(now_ms),
            "upl": text(upl if settle else ZERO), "uplLiab": "",
        })  # fmt: skip
    return {
        "adjEq": "", "borrowFroz": "", "details": details, "imr": text(margin), "isoEq": "0",
        "mgnRatio": "", "mmr": "0", "notionalUsd": "0", "ordFroz": "0", "totalEq": text(total),
        "uTime": str(now_ms), "upl": text(upl),
    }  # fmt: skip


def order_shape(engine: Engine, key: ApiKey, o: Order) -> dict[str, Any]:
    swap = o.instrument.linear
    last = o.fills[-1] if o.fills else None
    quote_sized = o.quote_qty is not None and o.type is OrderType.MARKET
    if o.type is OrderType.MARKET:
        ord_type = "market"
    else:
        ord_type = {"IOC": "ioc", "FOK": "fok"}.get(o.time_in_force, "limit")
    return {
        "accFillSz": text(o.filled), "algoClOrdId": "", "algoId": "", "attachAlgoClOrdId": "",
        "attachAlgoOrds": _attached(o), "avgPx": text(o.average) if o.average else "",
        "cTime": str(o.created_ms), "cancelSource": "", "cancelSourceReason": "",
        "category": "normal", "ccy": "", "clOrdId": o.client_id, "fee": text(-o.fee),
        "feeCcy": o.fee_asset or (o.instrument.quote if swap else o.instrument.base),
        "fillPx": text(last.price) if last else "", "fillSz": text(last.qty) if last else "0",
        "fillTime": str(last.time_ms) if last else "", "instId": o.instrument.id,
        "instType": inst_type(o.instrument), "isTpLimit": "false",
        "lever": str(engine.wallet(key).leverage_of(o.instrument)) if swap else "",
        "linkedAlgoOrd": {"algoId": ""}, "ordId": o.venue_id, "ordType": ord_type,
        "pnl": text(sum((f.realized_pnl for f in o.fills), ZERO)), "posSide": "net",
        "px": text(o.price) if o.price is not None else "", "pxType": "", "pxUsd": "",
        "pxVol": "", "quickMgnType": "", "rebate": "0", "rebateCcy": o.instrument.quote,
        "reduceOnly": "true" if o.reduce_only else "false", "side": str(o.side),
        "slOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "", "source": "",
        "state": STATE[o.status], "stpId": "", "stpMode": "cancel_maker",
        "sz": text(o.quote_qty if quote_sized else o.qty), "tag": "",
        "tdMode": "cross" if swap else "cash",
        "tgtCcy": "" if swap else ("quote_ccy" if quote_sized else "base_ccy"),
        "tpOrdPx": "", "tpTriggerPx": "", "tpTriggerPxType": "",
        "tradeId": last.venue_id if last else "", "uTime": str(o.updated_ms),
    }  # fmt: skip


def _attached(o: Order) -> list[dict[str, str]]:
    if not o.stops:
        return []
    sl, tp = o.stops.sl, o.stops.tp
    return [
        {
            "attachAlgoClOrdId": "", "attachAlgoId": "", "failCode": "", "failReason": "",
            "slOrdPx": "" if sl is None else "-1", "slTriggerPx": text(sl),
            "slTriggerPxType": "" if sl is None else "last", "sz": "",
            "tpOrdPx": "" if tp is None else "-1", "tpTriggerPx": text(tp),
            "tpTriggerPxType": "" if tp is None else "last",
        }
    ]  # fmt: skip


def order_request(entry: dict[str, Any], instrument: Instrument) -> OrderRequest:
    """One batch-orders entry as an order; ``Rejected`` (51000) names what is malformed.

    A spot market buy's ``sz`` is in quote currency unless ``tgtCcy`` is ``base_ccy`` (ccxt
    sends ``base_ccy``); a swap's ``sz`` counts contracts of ``ctVal`` base currency.
    """
    client_id = str(entry.get("clOrdId") or "")
    if client_id and not CLIENT_ID.match(client_id):
        raise Rejected(Reason.BAD_PARAMETER, "clOrdId")
    side, ord_type = entry.get("side"), entry.get("ordType")
    if side not in ("buy", "sell") or ord_type not in ORDER_TYPES:
        raise Rejected(Reason.BAD_PARAMETER, "side/ordType")
    spot = instrument.kind is Kind.SPOT
    if entry.get("tdMode") not in (("cash",) if spot else ("cross", "isolated")):
        raise Rejected(Reason.BAD_PARAMETER, "tdMode")
    size = to_decimal(entry.get("sz"))
    if size is None or size <= 0:
        raise Rejected(Reason.BAD_PARAMETER, "sz")
    market = ord_type == "market"
    default_target = "quote_ccy" if side == "buy" else "base_ccy"
    in_quote = market and spot and entry.get("tgtCcy", default_target) == "quote_ccy"
    return OrderRequest(
        instrument=instrument,
        side=Side(str(side)),
        type=OrderType.MARKET if market else OrderType.LIMIT,
        qty=None if in_quote else size,
        quote_qty=size if in_quote else None,
        price=None if market else to_decimal(entry.get("px")),
        client_id=client_id,
        reduce_only=not spot and entry.get("reduceOnly") in (True, "true"),
        time_in_force={"ioc": "IOC", "fok": "FOK"}.get(str(ord_type), "IOC" if market else "GTC"),
    )


def fill_shape(o: Order, f: Fill) -> dict[str, Any]:
    rate = o.instrument.maker_fee if f.maker else o.instrument.taker_fee
    return {
        "side": str(o.side), "fillSz": text(f.qty), "fillPx": text(f.price), "fillPxVol": "",
        "fillFwdPx": "", "fee": text(-f.fee), "fillPnl": text(f.realized_pnl),
        "ordId": o.venue_id, "feeRate": text(-rate), "instType": inst_type(o.instrument),
        "fillPxUsd": "", "instId": o.instrument.id, "clOrdId": o.client_id, "posSide": "net",
        "billId": str(int(f.venue_id) + 3_000_000_000), "fillMarkVol": "", "tag": "",
        "fillTime": str(f.time_ms), "execType": "M" if f.maker else "T", "fillIdxPx": "",
        "tradeId": f.venue_id, "fillMarkPx": "", "feeCcy": f.fee_asset, "ts": str(f.time_ms),
    }  # fmt: skip


def position_shape(engine: Engine, key: ApiKey, i: Instrument) -> dict[str, Any]:
    account = engine.wallet(key)
    position = account.position(i)
    mark = engine.feed.mid(i.base)
    leverage = account.leverage_of(i)
    notional = position.notional(mark)
    upl = position.unrealized_pnl(mark)
    imr = notional / leverage
    entry_margin = i.base_qty(abs(position.qty)) * position.entry_price / leverage
    return {
        "adl": "1", "availPos": "", "avgPx": text(position.entry_price), "baseBal": "",
        "bePx": text(position.entry_price), "bizRefId": "", "bizRefType": "",
        "cTime": str(position.created_ms), "ccy": i.quote, "clSpotInUseAmt": "",
        "closeOrderAlgo": [], "deltaBS": "", "deltaPA": "", "fee": "0", "fundingFee": "0",
        "gammaBS": "", "gammaPA": "", "idxPx": text(mark), "imr": text(imr), "instId": i.id,
        "instType": "SWAP", "interest": "", "last": text(mark), "lever": str(leverage),
        "liab": "", "liabCcy": "", "liqPenalty": "0", "liqPx": "", "margin": "",
        "markPx": text(mark), "maxSpotInUseAmt": "", "mgnMode": "cross", "mgnRatio": "",
        "mmr": text(notional * Decimal("0.004")), "notionalUsd": text(notional), "optVal": "",
        "pendingCloseOrdLiabVal": "", "pnl": text(position.realized_pnl), "pos": text(position.qty),
        "posCcy": "", "posId": str(1_000_000 + sum(map(ord, i.id))), "posSide": "net",
        "quoteBal": "", "realizedPnl": text(position.realized_pnl), "spotInUseAmt": "",
        "spotInUseCcy": "", "thetaBS": "", "thetaPA": "", "tradeId": "",
        "uTime": str(position.updated_ms), "upl": text(upl),
        "uplRatio": text(upl / entry_margin) if entry_margin else "0", "usdPx": "",
        "vegaBS": "", "vegaPA": "",
    }  # fmt: skip
