"""The trade job kinds that open and close: order and close.

Each runs inside the venue session. A journal row left `sent` or `unknown` by an earlier
attempt (a crash, a timeout) is resolved first by looking the client order id up at the
venue; only what provably did not happen is sent again, and not after the attempt cap
nor past the job's time-to-live. A job past its deadline with nothing to look up ends
before any login.
"""

from __future__ import annotations

from switchyard.domain import ClosePayload, ErrorCode, OrderPayload, VenuePositionId
from worker.outcome import Outcome, failed
from worker.trading import reconcile
from worker.trading.context import JobContext
from worker.trading.journal import DONE_STATUSES
from worker.trading.refresh import after_trade
from worker.trading.risk import check_order
from worker.trading.sending import send
from worker.venue import Refusal


def refused(refusal: Refusal) -> Outcome:
    return failed(refusal.code, refusal.message)


def run_order(ctx: JobContext, payload: OrderPayload) -> Outcome:
    if (refusal := check_order(ctx.account.risk_limits, payload)) is not None:
        return refusal
    entry = ctx.journal.get(ctx.job.user_id, ctx.coid)
    if entry is not None and entry.status in DONE_STATUSES:
        return reconcile.from_journal(ctx.coid, entry)
    if (late := reconcile.too_late(ctx, entry)) is not None:
        return late
    with ctx.venue.on_account(ctx.account) as session:
        if (
            resolved := reconcile.resolve(ctx, session, entry, "open", symbol=payload.symbol)
        ) is not None:
            return after_trade(ctx, session, resolved)
        prepared = session.prepare_order(payload, ctx.coid)
        if isinstance(prepared, Refusal):
            return refused(prepared)
        return after_trade(ctx, session, send(ctx, session, prepared))


def run_close(ctx: JobContext, payload: ClosePayload) -> Outcome:
    target = ctx.venue.parse_id(payload.position, "position")
    if isinstance(target, Refusal):
        return refused(target)
    position_id = VenuePositionId(target)
    entry = ctx.journal.get(ctx.job.user_id, ctx.coid)
    if entry is not None and entry.status in DONE_STATUSES:
        return reconcile.from_journal(ctx.coid, entry)
    if (late := reconcile.too_late(ctx, entry)) is not None:
        return late
    with ctx.venue.on_account(ctx.account) as session:
        if (
            resolved := reconcile.resolve(ctx, session, entry, "close", position=position_id)
        ) is not None:
            return after_trade(ctx, session, resolved)
        position = session.position(position_id)
        if position is None:
            return failed(
                ErrorCode.NOT_FOUND, f"position {position_id} is not open on this account"
            )
        volume = payload.volume if payload.volume is not None else position.volume
        if volume > position.volume:
            return failed(
                ErrorCode.INVALID_VOLUME,
                f"cannot close {volume} lots: position {position_id} has {position.volume}",
            )
        prepared = session.prepare_close(position, volume, payload.deviation, ctx.coid)
        if isinstance(prepared, Refusal):
            return refused(prepared)
        return after_trade(ctx, session, send(ctx, session, prepared))
