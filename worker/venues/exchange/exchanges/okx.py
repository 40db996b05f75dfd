"""OKX v5: spot (cash) and USDT swaps (cross, net mode), whose orders may carry a stop loss
and take profit; a passphrase; demo by header."""

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
    Unified,
    permissions,
)


async def read_permissions(exchange: Ccxt, environment: str) -> Permissions:
    answer: dict[str, Any] = await exchange.private_get_account_config()
    config = (answer.get("data") or [{}])[0]
    perm = {part.strip() for part in str(config.get("perm", "")).split(",")}
    return permissions(
        read="read_only" in perm,
        trade="trade" in perm,
        withdraw="withdraw" in perm,
        ip_restricted=bool(config.get("ip")),
    )


async def find_by_client_id(exchange: Ccxt, symbol: str, client_id: str) -> Unified | None:
    try:
        order: Unified = await exchange.fetch_order(None, symbol, {"clientOrderId": client_id})
    except ccxt.OrderNotFound:
        return None
    return order


async def fetch_order(exchange: Ccxt, order_id: str, symbol: str) -> Unified | None:
    order: Unified = await exchange.fetch_order(order_id, symbol)
    return order


async def set_leverage(exchange: Ccxt, leverage: int, symbol: str) -> None:
    # Cross margin, as our orders (ccxt's tdMode default); OKX accepts an unchanged one.
    await exchange.set_leverage(leverage, symbol, {"marginMode": "cross"})


async def position_stops(exchange: Ccxt) -> dict[str, tuple[Any, Any]]:
    """Each swap's (sl, tp): OKX keeps an order's attached stops as a pending algo order
    (`oco` with both, `conditional` with one), not on the position, and ccxt's unified
    position has none. The newest algo order of a market wins (the list is newest first)."""
    answer: dict[str, Any] = await exchange.private_get_trade_orders_algo_pending(
        {"instType": "SWAP", "ordType": "conditional,oco"}
    )
    symbols = {m["id"]: m["symbol"] for m in (exchange.markets or {}).values() if m.get("swap")}
    found: dict[str, tuple[Any, Any]] = {}
    for algo in answer.get("data") or []:
        symbol = symbols.get(str(algo.get("instId")))
        if symbol is not None and symbol not in found:
            found[symbol] = (algo.get("slTriggerPx") or None, algo.get("tpTriggerPx") or None)
    return found


def fill_entry(info: Mapping[str, Any]) -> Entry | None:
    if not str(info.get("instId", "")).endswith("-SWAP"):
        return None
    return "out" if float(info.get("fillPnl") or 0) != 0 else "in"


def _simulated(exchange: Ccxt) -> None:
    exchange.set_sandbox_mode(True)  # sends x-simulated-trading: 1


PROFILE = Profile(
    venue=Venue.OKX,
    ccxt_id="okx",
    noun="OKX",
    options={"fetchMarkets": {"types": ["spot", "swap"]}, "fetchCurrencies": False},
    has={"fetchCurrencies": False},
    # OKX has no separate testnet: its demo trading is both.
    environments={"live": lambda exchange: None, "testnet": _simulated, "demo": _simulated},
    url_keys=frozenset({"rest"}),
    passphrase=True,
    # 1-32 letters and digits only: ours (sy + 24 hex digits) fits as it is.
    client_ids=ClientIdFormat(pattern=re.compile(r"[A-Za-z0-9]{1,32}")),
    scopes=({"type": "spot"}, {"type": "swap"}),
    read_permissions=read_permissions,
    trade_only_help=(
        "On OKX: Profile → API keys → Create API key with the permissions 'Read' and "
        "'Trade' only (leave 'Withdraw' unticked)"
    ),
    find_by_client_id=find_by_client_id,
    fetch_order=fetch_order,
    set_leverage=set_leverage,
    # ccxt sends them as attachAlgoOrds (slTriggerPx/tpTriggerPx, at market).
    attached_stops=True,
    position_stops=position_stops,
    fill_entry=fill_entry,
    fill_profit=lambda info: info.get("fillPnl"),
)
