"""The trade job kinds that change what is there: modify and cancel.

Each runs inside the venue session and is judged by the state it aims for: a position or
order already as asked (an earlier attempt's work, or nothing to do) is done without
sending anything; only a change still to make is journalled and sent. A job past its
deadline with nothing to look up ends before any login.
"""

from __future__ import annotations

from typing import Literal

from switchyard.domain import (
    CancelPayload,
    ErrorCode,
    Fill,
    ModifyPayload,
    VenueOrderId,
    VenuePositionId,
)
from worker.outcome import Outcome, Succeeded, failed
from worker.trading import reconcile
from worker.trading.context import JobContext
from worker.trading.orders import refused
from worker.trading.refresh import after_trade
from worker.trading.sending import send
from worker.venue import OrderStatus, Refusal

#: An order in these states can still be changed or cancelled.
WORKING = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})


def _done(ctx: JobContext, target: str, status: Literal["modified", "cancelled"]) -> Succeeded:
    """Already as asked: the journal (if an earlier attempt wrote a row) and the job say so."""
    ctx.journal.outcome(ctx.job.user_id, ctx.coid, status)
    fill = Fill(client_order_id=ctx.coid, order=VenueOrderId(target), status=status)
    return Succeeded(fill.model_dump(mode="json"))


def run_modify(ctx: JobContext, payload: ModifyPayload) -> Outcome:
    on_position = payload.position is not None
    text = payload.position if payload.position is not None else payload.order
    assert text is not None  # the payload model guarantees exactly one
    target = ctx.venue.parse_id(text, "position" if on_position else "order")
    if isinstance(target, Refusal):
        return refused(target)
    if (late := reconcile.too_late(ctx, ctx.journal.get(ctx.job.user_id, ctx.coid))) is not None:
        return late
    with ctx.venue.on_account(ctx.account) as session:
        if on_position:
            position = session.position(VenuePositionId(target))
            if position is None:
                return failed(ErrorCode.NOT_FOUND, f"position {target} is not open")
            sl = payload.sl if payload.sl is not None else position.sl
            tp = payload.tp if payload.tp is not None else position.tp
            if (position.sl, position.tp) == (sl, tp):
                return after_trade(ctx, session, _done(ctx, target, "modified"))
            prepared = session.prepare_modify_position(position, sl, tp, ctx.coid)
        else:
            order = session.order(VenueOrderId(target))
            if order is None or order.status not in WORKING:
                return failed(
                    ErrorCode.NOT_FOUND,
                    f"pending order {target} does not exist (filled or cancelled)",
                )
            price = payload.price if payload.price is not None else order.price
            sl = payload.sl if payload.sl is not None else order.sl
            tp = payload.tp if payload.tp is not None else order.tp
            if (order.price, order.sl, order.tp) == (price, sl, tp):
                return after_trade(ctx, session, _done(ctx, target, "modified"))
            prepared = session.prepare_modify_order(order, price, sl, tp, ctx.coid)
        if isinstance(prepared, Refusal):
            return refused(prepared)
        return after_trade(ctx, session, send(ctx, session, prepared))


def run_cancel(ctx: JobContext, payload: CancelPayload) -> Outcome:
    target = ctx.venue.parse_id(payload.order, "order")
    if isinstance(target, Refusal):
        return refused(target)
    if (late := reconcile.too_late(ctx, ctx.journal.get(ctx.job.user_id, ctx.coid))) is not None:
        return late
    with ctx.venue.on_account(ctx.account) as session:
        order = session.order(VenueOrderId(target))
        if order is not None and order.status is OrderStatus.CANCELLED:
            return after_trade(ctx, session, _done(ctx, target, "cancelled"))
        if order is not None and order.status is OrderStatus.FILLED:
            return failed(
                ErrorCode.NOT_FOUND,
                f"pending order {target} was filled before it could be cancelled",
            )
        if order is None or order.status not in WORKING:
            return failed(ErrorCode.NOT_FOUND, f"pending order {target} does not exist")
        prepared = session.prepare_cancel(order, ctx.coid)
        if isinstance(prepared, Refusal):
            return refused(prepared)
        return after_trade(ctx, session, send(ctx, session, prepared))
