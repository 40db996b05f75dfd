"""After doubt, before anything is sent: what the journal and the venue already say.

A trade job's earlier attempt may have reached the venue (its journal row says `sent`
or `unknown`): the client order id is looked up there first, and only an order that
provably never happened may be sent again, not after the attempt cap. A job whose
journal says done is answered from it. A job past its time-to-live with nothing to look
up ends before any login.
"""

from __future__ import annotations

import logging

from switchyard.domain import ClientOrderId, ErrorCode, Fill, VenuePositionId
from worker.outcome import Cancelled, Failed, Outcome, Succeeded, expired, failed
from worker.trading.context import JobContext
from worker.trading.journal import DONE_STATUSES, UNSURE_STATUSES, Entry
from worker.trading.sending import fill_of
from worker.venue import Action, VenueSession

log = logging.getLogger(__name__)


def from_journal(coid: ClientOrderId, entry: Entry) -> Succeeded:
    status = "filled" if entry.status not in DONE_STATUSES else entry.status
    fill = Fill(
        client_order_id=coid,
        order=entry.venue_order_id,
        price=entry.fill_price,
        volume=entry.filled_volume,
        retcode=entry.retcode,
        status=status,
    )
    return Succeeded(fill.model_dump(mode="json"))


def too_late(ctx: JobContext, entry: Entry | None) -> Cancelled | None:
    """Past the deadline, and no earlier attempt to look up: cancelled before any login."""
    if ctx.deadline.passed() and (entry is None or entry.status not in UNSURE_STATUSES):
        return expired("before the job could start")
    return None


def _gave_up(ctx: JobContext, coid: ClientOrderId) -> Failed:
    reason = (
        f"not executed: gave up after {ctx.job.max_attempts} attempts; {ctx.venue.noun} "
        "confirms the order was never carried out"
    )
    ctx.journal.outcome(ctx.job.user_id, coid, "rejected", reason=reason)
    return failed(ErrorCode.VENUE_UNAVAILABLE, reason)


def resolve(
    ctx: JobContext,
    session: VenueSession,
    entry: Entry | None,
    action: Action,
    *,
    symbol: str | None = None,
    position: VenuePositionId | None = None,
) -> Outcome | None:
    """After doubt: the outcome if the order is found (or must not be resent), else None.
    `symbol` / `position`: where the venue keeps the order (see `VenueSession.find`)."""
    if entry is None or entry.status not in UNSURE_STATUSES:
        return None
    job, coid = ctx.job, ctx.coid
    found = session.find(
        coid, since=job.created_at, action=action, symbol=symbol, position=position
    )
    if found is not None:
        fill = fill_of(coid, found)
        log.info("job %s: client order id %s found at the venue (%s)", job.id, coid, found.status)
        ctx.journal.outcome(
            job.user_id,
            coid,
            found.status,
            venue_order_id=fill.order,
            filled_volume=fill.volume,
            fill_price=fill.price,
        )
        return Succeeded(fill.model_dump(mode="json"))
    if job.attempts > job.max_attempts:
        return _gave_up(ctx, coid)
    log.info("job %s: client order id %s provably not executed; sending again", job.id, coid)
    return None
