"""Binance spot: `/api/v3` and the `sapi` key-restrictions endpoint (absent on the testnet)."""

from __future__ import annotations

import re
from typing import Any

import ccxt.async_support as ccxt

from switchyard.domain import Venue
from worker.venues.exchange.profile import (
    Ccxt,
    ClientIdFormat,
    Permissions,
    Profile,
    Unified,
    permissions,
    unknown_permissions,
)

TESTNET_PERMISSIONS = (
    "Binance's spot testnet has no key-permission endpoint (sapi): what this key may do "
    "is unknown; testnet keys hold test funds only"
)


async def read_permissions(exchange: Ccxt, environment: str) -> Permissions:
    if environment == "testnet":
        return unknown_permissions(TESTNET_PERMISSIONS)
    answer: dict[str, Any] = await exchange.sapi_get_account_apirestrictions()
    return permissions(
        read=bool(answer.get("enableReading")),
        trade=bool(answer.get("enableSpotAndMarginTrading")),
        withdraw=bool(answer.get("enableWithdrawals")),
        ip_restricted=bool(answer.get("ipRestrict")),
    )


async def find_by_client_id(exchange: Ccxt, symbol: str, client_id: str) -> Unified | None:
    try:
        order: Unified = await exchange.fetch_order(None, symbol, {"origClientOrderId": client_id})
    except ccxt.OrderNotFound:
        return None
    return order


async def fetch_order(exchange: Ccxt, order_id: str, symbol: str) -> Unified | None:
    order: Unified = await exchange.fetch_order(order_id, symbol)
    return order


PROFILE = Profile(
    venue=Venue.BINANCE,
    ccxt_id="binance",
    noun="Binance",
    options={
        "fetchMarkets": {"types": ["spot"]},
        "fetchCurrencies": False,
        "fetchMargins": False,
        "warnOnFetchOpenOrdersWithoutSymbol": False,
    },
    environments={
        "live": lambda exchange: None,
        "testnet": lambda exchange: exchange.set_sandbox_mode(True),
        "demo": lambda exchange: exchange.enable_demo_trading(True),
    },
    url_keys=frozenset({"public", "private", "sapi"}),
    client_ids=ClientIdFormat(pattern=re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")),
    scopes=None,  # openOrders works account-wide; myTrades needs a symbol
    read_permissions=read_permissions,
    trade_only_help=(
        "On Binance: API Management → Edit restrictions → leave 'Enable Withdrawals' off "
        "(only 'Enable Reading' and 'Enable Spot & Margin Trading'), or create a new key so"
    ),
    find_by_client_id=find_by_client_id,
    fetch_order=fetch_order,
    # A revoked key after a successful call surfaces as DDoSProtection (ccxt's binance).
    credential_markers=('"code":-2015', '"code":-2014', '"code":-1022'),
)
