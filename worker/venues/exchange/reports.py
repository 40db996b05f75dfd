"""ccxt's unified orders, trades, positions and balances as the seam's reports.

Volumes leave here in base currency whatever the market counts in (OKX swaps count
contracts of 0.01 BTC): `base = contracts × contractSize`. Our order ids name their
market (`<exchange order id>_<market key>`, the key `<type>-<market id>`), because Binance
and OKX keep orders per market: a cancel or a look-up needs both, and the id alone is
what a client sends back. A
perpetual position's id is its market key (one net position per market).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from switchyard.domain import ClientOrderId, OrderType, Side, VenueOrderId, VenuePositionId
from worker.venue import (
    AccountReport,
    DoneStatus,
    Execution,
    FillReport,
    OrderStatus,
    OrderStatusReport,
    PositionReport,
    SymbolSpec,
)
from worker.venues.exchange.profile import Permissions, Profile, Unified

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
_STATUSES: Final = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def plain(value: Decimal) -> Decimal:
    """Without trailing zeros, and never in exponent form (`1E+4` is 10000)."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    return value.quantize(ONE) if isinstance(exponent, int) and exponent > 0 else value


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return plain(Decimal(str(value)))


def contract_size(market: Unified) -> Decimal:
    if not market.get("contract"):
        return ONE
    return dec(market.get("contractSize")) or ONE


def to_base(market: Unified, amount: Any) -> Decimal | None:
    value = dec(amount)
    return None if value is None else plain(value * contract_size(market))


def market_key(market: Unified) -> str:
    """`<type>-<exchange market id>`: unique (Bybit's spot and linear share `BTCUSDT`)."""
    return f"{market['type']}-{market['id']}"


def order_id(order: Unified, market: Unified) -> VenueOrderId:
    return VenueOrderId(f"{order['id']}_{market_key(market)}")


def split_order_id(text: str) -> tuple[str, str] | None:
    """(exchange order id, market key) of one of our order ids, or None."""
    exchange_id, sep, market_id = text.partition("_")
    return (exchange_id, market_id) if sep and exchange_id and market_id else None


def position_id(market: Unified) -> VenuePositionId | None:
    return VenuePositionId(market_key(market)) if market.get("contract") else None


def _time(ms: Any) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC) if ms else datetime.now(UTC)


def order_report(order: Unified, market: Unified) -> OrderStatusReport:
    status = _STATUSES.get(str(order.get("status")), OrderStatus.OPEN)
    quantity = to_base(market, order.get("amount")) or ZERO
    filled = to_base(market, order.get("filled")) or ZERO
    if status is OrderStatus.OPEN and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    kind = str(order.get("type") or "")
    side = str(order.get("side") or "")
    return OrderStatusReport(
        venue_order_id=order_id(order, market),
        client_order_id=(
            ClientOrderId(order["clientOrderId"]) if order.get("clientOrderId") else None
        ),
        symbol=market["symbol"],
        side=Side(side) if side in ("buy", "sell") else None,
        order_type=OrderType(kind) if kind in ("market", "limit") else None,
        status=status,
        quantity=quantity,
        filled=filled,
        price=dec(order.get("price")) if kind == "limit" else None,
        average_price=dec(order.get("average")),
        venue_position_id=position_id(market),
    )


def execution(order: Unified, market: Unified, done: DoneStatus) -> Execution:
    """What an order we sent (answered, or found again) says was done."""
    filled = to_base(market, order.get("filled"))
    if done == "placed" and order.get("status") == "closed":
        done = "filled"  # a limit that was marketable filled at once
    return Execution(
        status=done,
        venue_order_id=order_id(order, market),
        venue_position_id=position_id(market),
        price=dec(order.get("average")) or dec(order.get("price")),
        volume=filled if filled else None,
    )


def fill_report(trade: Unified, market: Unified, profile: Profile) -> FillReport:
    fee = trade.get("fee") or {}
    side = str(trade.get("side") or "")
    info: Mapping[str, Any] = trade.get("info") or {}
    return FillReport(
        venue_fill_id=str(trade["id"]),
        venue_order_id=(
            VenueOrderId(f"{trade['order']}_{market_key(market)}") if trade.get("order") else None
        ),
        venue_position_id=position_id(market),
        symbol=market["symbol"],
        side=Side(side) if side in ("buy", "sell") else None,
        entry=profile.fill_entry(info) if market.get("contract") else None,
        volume=to_base(market, trade.get("amount")) or ZERO,
        price=dec(trade.get("price")) or ZERO,
        profit=(dec(profile.fill_profit(info)) or ZERO) if market.get("contract") else ZERO,
        commission=dec(fee.get("cost")) or ZERO,
        fee=ZERO,
        comment=trade.get("clientOrderId") or info.get("orderLinkId") or info.get("clOrdId"),
        executed_at=_time(trade.get("timestamp")),
    )


def _stop(value: Any) -> Decimal | None:
    """A stop price as exchanges report one: 0 or empty is none (Bybit's "0")."""
    price = dec(value)
    return price if price else None


def position_report(
    position: Unified, market: Unified, stops: tuple[Any, Any] | None = None
) -> PositionReport | None:
    """An open perpetual position, or None when it is flat. `stops`: its (sl, tp) where
    the exchange keeps them apart from the position (OKX's algo orders)."""
    contracts = dec(position.get("contracts"))
    if not contracts:
        return None
    side = Side.BUY if position.get("side") == "long" else Side.SELL
    pid = position_id(market)
    assert pid is not None
    return PositionReport(
        venue_position_id=pid,
        symbol=market["symbol"],
        side=side,
        volume=plain(contracts * contract_size(market)),
        open_price=dec(position.get("entryPrice")) or ZERO,
        sl=_stop(stops[0] if stops else position.get("stopLossPrice")),
        tp=_stop(stops[1] if stops else position.get("takeProfitPrice")),
        profit=dec(position.get("unrealizedPnl")) or ZERO,
        opened_at=_time(position.get("timestamp")),
        leverage=dec(position.get("leverage")),
    )


def account_report(balance: Unified, permissions: Permissions, quote: str) -> AccountReport:
    totals: Mapping[str, Any] = balance.get("total") or {}
    free: Mapping[str, Any] = balance.get("free") or {}
    assets = {
        asset: amount
        for asset, raw in sorted(totals.items())
        if (amount := dec(raw)) is not None and amount != 0
    }
    return AccountReport(
        balance=assets.get(quote, ZERO),
        equity=None,
        margin=None,
        free_margin=dec(free.get(quote)),
        currency=quote,
        leverage=None,
        login=None,
        server=None,
        permissions=permissions,
        assets=assets,
    )


def symbol_spec(market: Unified, ticker: Unified, *, stops: bool) -> SymbolSpec:
    """The market's rules in base currency (what `volume` counts on an exchange)."""
    size = contract_size(market)
    limits = market.get("limits") or {}
    amount = limits.get("amount") or {}
    cost = limits.get("cost") or {}
    step = (dec((market.get("precision") or {}).get("amount")) or ONE) * size
    minimum = dec(amount.get("min"))
    maximum = dec(amount.get("max"))
    bid, ask = dec(ticker.get("bid")), dec(ticker.get("ask"))
    last = dec(ticker.get("last")) or bid or ask or ZERO
    return SymbolSpec(
        symbol=market["symbol"],
        volume_min=plain(minimum * size) if minimum else step,
        volume_max=plain(maximum * size) if maximum else None,
        volume_step=plain(step),
        price_step=dec((market.get("precision") or {}).get("price")),
        contract_size=ONE,
        min_notional=dec(cost.get("min")),
        bid=bid or last,
        ask=ask or last,
        unit_move_value=ONE,
        margined=bool(market.get("contract")),
        leverage_settable=bool(market.get("contract")),
        stops_attachable=stops,
    )
