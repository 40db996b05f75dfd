"""The terminal's answers as `worker.venue` reports: what MT5's numbers mean, said once.

`parsing` copies the terminal's answers into typed values; this module says what they
are in the flow's vocabulary (a position type 0 is a buy, a deal entry 1 leaves a
position, ticket "0" is no ticket, a deal with an entry deal is a fill). Nothing here
decides what a job does about them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from switchyard.domain import ClientOrderId, OrderType, Side, VenueOrderId, VenuePositionId
from worker.venue import (
    AccountReport,
    Entry,
    Execution,
    FillReport,
    OrderStatus,
    OrderStatusReport,
    PositionReport,
    Prepared,
    SymbolSpec,
)
from worker.venues.mt5.constants import (
    DEAL_ENTRY_NAMES,
    DEAL_TYPE_BUY,
    DEAL_TYPE_SELL,
    POSITION_TYPE_BUY,
)
from worker.venues.mt5.parsing import (
    AccountInfo,
    Deal,
    Order,
    Position,
    SendResult,
    SymbolInfo,
    Tick,
    Trail,
)

#: `ORDER_STATE_*` values the reports tell apart.
ORDER_STATE_PARTIAL: Final = 3
ORDER_STATE_CANCELED: Final = 2
ORDER_STATE_FILLED: Final = 4
ORDER_STATE_REJECTED: Final = 5
ORDER_STATE_EXPIRED: Final = 6
#: History states in the order a cancel reads them: a cancelled order wins over a filled one.
_HISTORY_STATES: Final = (
    (ORDER_STATE_CANCELED, OrderStatus.CANCELLED),
    (ORDER_STATE_FILLED, OrderStatus.FILLED),
    (ORDER_STATE_REJECTED, OrderStatus.REJECTED),
    (ORDER_STATE_EXPIRED, OrderStatus.EXPIRED),
)
#: `ORDER_TYPE_*` → (side, type); 0/1 are market orders, 2–5 limit and stop orders.
_ORDER_TYPES: Final[dict[int, tuple[Side, OrderType]]] = {
    0: (Side.BUY, OrderType.MARKET),
    1: (Side.SELL, OrderType.MARKET),
    2: (Side.BUY, OrderType.LIMIT),
    3: (Side.SELL, OrderType.LIMIT),
    4: (Side.BUY, OrderType.STOP),
    5: (Side.SELL, OrderType.STOP),
}
_TRADE_MODES: Final = {0: "demo", 1: "contest", 2: "real"}


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _ticket(text: str) -> str | None:
    """MT5 writes ticket 0 for "none"."""
    return text if text != "0" else None


def permissions_of(info: AccountInfo) -> dict[str, Any]:
    return {
        "trade_allowed": info.trade_allowed,
        "trade_expert": info.trade_expert,
        "trade_mode": _TRADE_MODES.get(info.trade_mode, "unknown"),
    }


def account_report(info: AccountInfo) -> AccountReport:
    return AccountReport(
        balance=info.balance,
        equity=info.equity,
        margin=info.margin,
        free_margin=info.margin_free,
        currency=info.currency,
        leverage=info.leverage,
        login=str(info.login),
        server=info.server,
        permissions=permissions_of(info),
    )


def position_report(p: Position) -> PositionReport:
    return PositionReport(
        venue_position_id=VenuePositionId(p.ticket),
        symbol=p.symbol,
        side=Side.BUY if p.type == POSITION_TYPE_BUY else Side.SELL,
        volume=p.volume,
        open_price=p.price_open,
        sl=p.sl,
        tp=p.tp,
        profit=p.profit,
        opened_at=_time(p.time),
    )


def order_report(o: Order, status: OrderStatus) -> OrderStatusReport:
    side, order_type = _ORDER_TYPES.get(o.type, (None, None))
    return OrderStatusReport(
        venue_order_id=VenueOrderId(o.ticket),
        client_order_id=ClientOrderId(o.comment) if o.comment else None,
        symbol=o.symbol,
        side=side,
        order_type=order_type,
        status=status,
        quantity=o.volume_initial,
        filled=o.volume_initial - o.volume_current,
        price=o.price_open,
        sl=o.sl,
        tp=o.tp,
        venue_position_id=VenuePositionId(p) if (p := _ticket(o.position_id)) else None,
    )


def open_order_report(o: Order) -> OrderStatusReport:
    """An order from `orders_get`: working, partly filled or not."""
    working = OrderStatus.PARTIALLY_FILLED if o.state == ORDER_STATE_PARTIAL else OrderStatus.OPEN
    return order_report(o, working)


def history_order_report(orders: tuple[Order, ...]) -> OrderStatusReport | None:
    """A ticket's history entries as one report; None when none says how it ended."""
    for state, status in _HISTORY_STATES:
        for o in orders:
            if o.state == state:
                return order_report(o, status)
    return None


def fill_report(d: Deal) -> FillReport:
    side = {DEAL_TYPE_BUY: Side.BUY, DEAL_TYPE_SELL: Side.SELL}.get(d.type)
    entry: Entry | None = DEAL_ENTRY_NAMES.get(d.entry) if side is not None else None
    return FillReport(
        venue_fill_id=d.ticket,
        venue_order_id=VenueOrderId(o) if (o := _ticket(d.order)) else None,
        venue_position_id=VenuePositionId(p) if (p := _ticket(d.position_id)) else None,
        symbol=d.symbol,
        side=side,
        entry=entry,
        volume=d.volume,
        price=d.price,
        profit=d.profit,
        commission=d.commission,
        fee=d.fee,
        swap=d.swap,
        comment=d.comment or None,
        executed_at=_time(d.time),
    )


def execution(prepared: Prepared, result: SendResult) -> Execution:
    """A request the terminal carried out, as the journal and the job's result record it."""
    if prepared.action == "open":
        return Execution(
            status=prepared.done,
            venue_order_id=_vo(result.order),
            venue_fill_id=result.deal,
            venue_position_id=_vp(result.order) if prepared.done == "filled" else None,
            price=result.price or prepared.price,
            volume=result.volume or prepared.volume,
            venue_code=result.retcode,
        )
    if prepared.action == "close":
        return Execution(
            status="closed",
            venue_order_id=_vo(result.order),
            venue_fill_id=result.deal,
            venue_position_id=_vp(prepared.target),
            price=result.price,
            volume=result.volume or prepared.volume,
            venue_code=result.retcode,
        )
    # modify and cancel act on an existing ticket: that is the order of the result
    return Execution(
        status=prepared.done, venue_order_id=_vo(prepared.target), venue_code=result.retcode
    )


def _vo(ticket: str | None) -> VenueOrderId | None:
    return None if ticket is None else VenueOrderId(ticket)


def _vp(ticket: str | None) -> VenuePositionId | None:
    return None if ticket is None else VenuePositionId(ticket)


def settle_open(trail: Trail) -> Execution | None:
    """An opening order found at the terminal; None when it never happened."""
    entries = [d for d in trail.deals if d.entry == 0]
    if entries:
        first = entries[0]
        return Execution(
            status="filled",
            venue_order_id=VenueOrderId(first.order),
            venue_fill_id=first.ticket,
            venue_position_id=VenuePositionId(first.position_id),
            price=first.price,
            volume=sum((d.volume for d in entries), Decimal(0)),
        )
    pending = trail.orders or trail.history_orders
    if pending:
        o = pending[0]
        return Execution(
            status="placed",
            venue_order_id=VenueOrderId(o.ticket),
            price=o.price_open,
            volume=o.volume_initial,
        )
    if trail.positions:
        p = trail.positions[0]
        return Execution(
            status="filled",
            venue_position_id=VenuePositionId(p.ticket),
            price=p.price_open,
            volume=p.volume,
        )
    return None


def settle_close(trail: Trail) -> Execution | None:
    """A closing deal found at the terminal; None when it never happened."""
    exits = [d for d in trail.deals if d.entry != 0]
    if not exits:
        return None
    first = exits[0]
    return Execution(
        status="closed",
        venue_order_id=VenueOrderId(first.order),
        venue_fill_id=first.ticket,
        venue_position_id=VenuePositionId(first.position_id),
        price=first.price,
        volume=sum((d.volume for d in exits), Decimal(0)),
    )


def symbol_spec(info: SymbolInfo, tick: Tick) -> SymbolSpec:
    """MT5's contract data: lots, no minimum order value; a volume maximum of 0 means none;
    the tick value is already in the account's currency."""
    return SymbolSpec(
        symbol=info.name,
        volume_min=info.volume_min,
        volume_max=info.volume_max or None,
        volume_step=info.volume_step,
        price_step=info.tick_size,
        contract_size=info.contract_size,
        min_notional=None,
        bid=tick.bid,
        ask=tick.ask,
        unit_move_value=info.tick_value / info.tick_size,
    )
