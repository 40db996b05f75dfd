"""OKX v5: spot (cash) and USDT swaps (cross, net mode), whose orders may carry a stop loss
and take profit, changed later through the TP/SL algo order that holds them; a passphrase;
demo by header."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

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


#: The pending algo orders that hold a swap position's stops (what `position_stops` reads).
_TPSL: Final = "conditional,oco"


async def set_position_stops(exchange: Ccxt, change: StopsChange) -> Unified:
    """An open swap position's stops at OKX, which keeps them as one TP/SL algo order: the
    pending one (the newest, as `position_stops` reports it) amended, else the one this job
    placed before (its answer lost) left as it is, else a new one placed. ccxt has no
    unified call for either."""
    inst_id = exchange.market(change.symbol)["id"]
    pending: dict[str, Any] = await exchange.private_get_trade_orders_algo_pending(
        {"instType": "SWAP", "ordType": _TPSL, "instId": inst_id}
    )
    held = [a for a in pending.get("data") or [] if a.get("instId") == inst_id]
    if held:
        return await _amend(exchange, inst_id, held[0], change)
    earlier = await _placed(exchange, change.client_id)
    if earlier is not None:
        return earlier
    return await _place(exchange, inst_id, change)


def _legs(change: StopsChange, prefix: str = "") -> dict[str, str]:
    """Each stop asked for as a trigger price on the last price, closed at market (-1)."""
    legs: dict[str, str] = {}
    for which, price in (("sl", change.sl), ("tp", change.tp)):
        if price is not None:
            name = f"{prefix}{which.capitalize()}" if prefix else which
            legs |= {f"{name}TriggerPx": price, f"{name}OrdPx": "-1",
                     f"{name}TriggerPxType": "last"}  # fmt: skip
    return legs


async def _amend(
    exchange: Ccxt, inst_id: str, algo: Mapping[str, Any], change: StopsChange
) -> Unified:
    """POST /api/v5/trade/amend-algos: new trigger prices for the legs the algo order has
    (`tickets` refuses adding one). Amending to the same prices again changes nothing."""
    request = {"instId": inst_id, "algoId": str(algo["algoId"]), **_legs(change, "new")}
    answer: Unified = await exchange.private_post_trade_amend_algos(request)
    return answer


async def _placed(exchange: Ccxt, client_id: str) -> Unified | None:
    """The algo order an earlier attempt of the job placed (GET /api/v5/trade/order-algo by
    algoClOrdId), pending or done, or None."""
    try:
        answer: Unified = await exchange.private_get_trade_order_algo({"algoClOrdId": client_id})
    except ccxt.OrderNotFound:
        return None
    return answer if answer.get("data") else None


async def _place(exchange: Ccxt, inst_id: str, change: StopsChange) -> Unified:
    """POST /api/v5/trade/order-algo: one TP/SL order closing the whole position
    (closeFraction 1, reduce only, at market) in the position's margin mode, carrying the
    job's id as algoClOrdId (OKX refuses it twice, 51065, and a second whole-position TP/SL,
    51088)."""
    found: dict[str, Any] = await exchange.private_get_account_positions(
        {"instType": "SWAP", "instId": inst_id}
    )
    row = _position_row(found.get("data") or [], inst_id, long=change.side == "buy")
    if row is None:
        raise ccxt.InvalidOrder(f"okx has no open {change.side} position in {inst_id}")
    both = change.sl is not None and change.tp is not None
    request: dict[str, Any] = {
        "instId": inst_id,
        "tdMode": row.get("mgnMode") or "cross",
        "side": "sell" if change.side == "buy" else "buy",
        "ordType": "oco" if both else "conditional",
        "closeFraction": "1",
        "reduceOnly": True,
        "algoClOrdId": change.client_id,
        **_legs(change),
    }
    if row.get("posSide") not in (None, "", "net"):
        request["posSide"] = row["posSide"]  # long/short mode
    answer: Unified = await exchange.private_post_trade_order_algo(request)
    return answer


def _position_row(rows: list[Any], inst_id: str, *, long: bool) -> Mapping[str, Any] | None:
    """The account's position in `inst_id` on that side: net mode by the sign of `pos`,
    long/short mode by `posSide`."""
    for row in rows:
        size = float(row.get("pos") or 0)
        if row.get("instId") != inst_id or not size:
            continue
        side = row.get("posSide") or "net"
        if (side == "net" and (size > 0) == long) or side == ("long" if long else "short"):
            found: Mapping[str, Any] = row
            return found
    return None


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
    set_position_stops=set_position_stops,
    adds_stop_legs=False,
    fill_entry=fill_entry,
    fill_profit=lambda info: info.get("fillPnl"),
)
