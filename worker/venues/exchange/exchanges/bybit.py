"""Bybit v5, unified account: spot and USDT linear perpetuals (`orderLinkId`), whose
orders may carry a stop loss and take profit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import ccxt.async_support as ccxt

from switchyard.domain import Venue
from worker.venue import Entry
from worker.venues.exchange.profile import (
    Ccxt,
    ClientIdFormat,
    Permissions,
    Profile,
    StopsChange,
    Unified,
    permissions,
)


async def read_permissions(exchange: Ccxt, environment: str) -> Permissions:
    answer: dict[str, Any] = await exchange.private_get_v5_user_query_api()
    result = answer.get("result") or {}
    granted: Mapping[str, list[str]] = result.get("permissions") or {}
    read_only = str(result.get("readOnly")) == "1"
    trades = "SpotTrade" in granted.get("Spot", []) or bool(granted.get("ContractTrade"))
    return permissions(
        read=True,
        trade=trades and not read_only,
        withdraw="Withdraw" in granted.get("Wallet", []),
        ip_restricted=list(result.get("ips") or ["*"]) != ["*"],
    )


async def find_by_client_id(exchange: Ccxt, symbol: str, client_id: str) -> Unified | None:
    # fetch_order(None, …) would send orderId=None: ask by orderLinkId, open then done.
    params = {"orderLinkId": client_id}
    found: list[Unified] = await exchange.fetch_open_orders(symbol, None, None, params)
    if not found:
        found = await exchange.fetch_canceled_and_closed_orders(symbol, None, None, params)
    return found[0] if found else None


async def fetch_order(exchange: Ccxt, order_id: str, symbol: str) -> Unified | None:
    order: Unified = await exchange.fetch_order(order_id, symbol, {"acknowledged": True})
    return order


#: Bybit's answer when the leverage already is the one asked for: retCode 110043 "Set
#: leverage not modified", which ccxt raises as BadRequest (its `exceptions['exact']`).
_NOT_MODIFIED = re.compile(r'"retCode"\s*:\s*"?110043\b')


async def set_leverage(exchange: Ccxt, leverage: int, symbol: str) -> None:
    # buyLeverage = sellLeverage (one-way mode); unified accounts margin cross by default.
    try:
        await exchange.set_leverage(leverage, symbol)
    except ccxt.BadRequest as exc:
        if not _NOT_MODIFIED.search(str(exc)):
            raise  # any other refusal stands (a leverage above the market's maximum…)


async def set_position_stops(exchange: Ccxt, change: StopsChange) -> Unified:
    """POST /v5/position/trading-stop (tpslMode Full, one-way mode): ccxt has no unified
    call that only changes a position's stops. A stop left out is kept; setting the same
    stops again changes nothing, so a retry needs no look-up."""
    request: dict[str, Any] = {
        "category": "linear",
        "symbol": exchange.market(change.symbol)["id"],
        "tpslMode": "Full",
        "positionIdx": 0,
    }
    if change.sl is not None:
        request["stopLoss"] = change.sl
    if change.tp is not None:
        request["takeProfit"] = change.tp
    answer: Unified = await exchange.private_post_v5_position_trading_stop(request)
    return answer


def fill_entry(info: Mapping[str, Any]) -> Entry | None:
    closed = str(info.get("closedSize") or "")
    if closed == "":
        return None  # spot
    return "out" if float(closed) > 0 else "in"


PROFILE = Profile(
    venue=Venue.BYBIT,
    ccxt_id="bybit",
    noun="Bybit",
    options={
        "fetchMarkets": {"types": ["spot", "linear"]},
        "fetchCurrencies": False,
        # Say it is a unified account: no is_unified_enabled calls before the first order.
        "enableUnifiedAccount": True,
        "enableUnifiedMargin": False,
    },
    has={"fetchCurrencies": False},
    environments={
        "live": lambda exchange: None,
        "testnet": lambda exchange: exchange.set_sandbox_mode(True),
        "demo": lambda exchange: exchange.enable_demo_trading(True),
    },
    url_keys=frozenset({"public", "private"}),
    client_ids=ClientIdFormat(pattern=re.compile(r"[A-Za-z0-9_-]{1,36}")),
    scopes=({"type": "spot"}, {"type": "swap", "subType": "linear"}),
    read_permissions=read_permissions,
    trade_only_help=(
        "On Bybit: API → Create New Key → System-generated, 'Read-Write' with only "
        "Spot 'Trade' and Contract 'Orders'/'Positions', and no Assets 'Withdrawal'"
    ),
    find_by_client_id=find_by_client_id,
    fetch_order=fetch_order,
    set_leverage=set_leverage,
    # ccxt sends stopLoss/takeProfit on /v5/order/create (tpslMode Full: the whole
    # position's); its unified position reads them back as stopLossPrice/takeProfitPrice.
    attached_stops=True,
    set_position_stops=set_position_stops,
    fill_entry=fill_entry,
    fill_profit=lambda info: info.get("execPnl"),
)
