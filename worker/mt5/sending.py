"""Sending one trade request exactly once: journal first, send, classify; look up after doubt.

Called inside the session's critical section (the terminal verified on the job's
account). Before the send: the job lease must outlast the call, and the intent is
committed to the journal as `sent`. After it, the retcode tables decide.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from functions.core.domain import ClientOrderId, ErrorCode, Fill
from worker.crashpoints import crash_point
from worker.errors import AmbiguousOutcome
from worker.journal import DoneStatus, Intent
from worker.mt5 import retcodes
from worker.mt5.context import Mt5Context
from worker.mt5.requests import Request
from worker.mt5.types import SendResult, Trail
from worker.outcome import Outcome, Succeeded, failed, retry

log = logging.getLogger(__name__)

#: History is kept in the trade server's time zone: look this far around our clock.
_HISTORY_SLACK_S = 2 * 86_400

#: What a confirmed send becomes in the journal and the job result.
FillFrom = Callable[[SendResult], Fill]


def send(
    ctx: Mt5Context, intent: Intent, request: Request, done: DoneStatus, fill_from: FillFrom
) -> Outcome:
    """Journal, send, and turn the answer into the job's outcome."""
    coid, user = intent.client_order_id, intent.user_id
    ctx.job_lease.require(ctx.send_margin_s)
    if not ctx.journal.sent(intent):
        # The journal already says done: the next attempt answers from it.
        return retry(
            ErrorCode.VENUE_UNAVAILABLE, "an earlier attempt already finished", ambiguous=True
        )
    crash_point("before_send")
    try:
        result = ctx.session.bridge.order_send(request)
    except AmbiguousOutcome as exc:
        ctx.journal.outcome(user, coid, "unknown", reason=str(exc))
        crash_point("after_send")
        return retry(ErrorCode.VENUE_UNAVAILABLE, f"{exc}; it will be looked up", ambiguous=True)
    crash_point("after_send")
    if result is None:
        ctx.journal.outcome(user, coid, "unknown", reason="order_send returned nothing")
        return retry(
            ErrorCode.VENUE_UNAVAILABLE,
            "the terminal returned no result for the order; it will be looked up",
            ambiguous=True,
        )
    if result.retcode in retcodes.DONE_RETCODES:
        fill = fill_from(result)
        ctx.journal.outcome(
            user,
            coid,
            done,
            venue_order_id=fill.order,
            filled_volume=fill.volume,
            fill_price=fill.price,
            retcode=result.retcode,
        )
        return Succeeded(fill.model_dump(mode="json"))
    code, message = retcodes.meaning(result.retcode, result.comment)
    if result.retcode in retcodes.AMBIGUOUS_RETCODES:
        ctx.journal.outcome(user, coid, "unknown", retcode=result.retcode, reason=message)
        return retry(code, f"{message}; it will be looked up", ambiguous=True)
    ctx.journal.outcome(user, coid, "rejected", retcode=result.retcode, reason=message)
    if result.retcode in retcodes.RETRYABLE_RETCODES:
        return retry(code, message)
    return failed(code, message, retcode=result.retcode)


def look_up(ctx: Mt5Context, coid: ClientOrderId, since: datetime) -> Trail:
    """Everything at the terminal that carries `coid` and our magic number."""
    now = int(time.time())
    return ctx.session.bridge.trail(
        coid, ctx.magic, int(since.timestamp()) - _HISTORY_SLACK_S, now + _HISTORY_SLACK_S
    )


def settle_open(trail: Trail, coid: ClientOrderId) -> tuple[DoneStatus, Fill] | None:
    """An opening order found at the terminal, as a Fill; None when it never happened."""
    entries = [d for d in trail.deals if d.entry == 0]
    if entries:
        first = entries[0]
        return "filled", Fill(
            client_order_id=coid,
            order=first.order,
            deal=first.ticket,
            position=first.position_id,
            price=first.price,
            volume=sum((d.volume for d in entries), Decimal(0)),
            status="filled",
        )
    pending = trail.orders or trail.history_orders
    if pending:
        o = pending[0]
        return "placed", Fill(
            client_order_id=coid,
            order=o.ticket,
            price=o.price_open,
            volume=o.volume_initial,
            status="placed",
        )
    if trail.positions:
        p = trail.positions[0]
        return "filled", Fill(
            client_order_id=coid,
            position=p.ticket,
            price=p.price_open,
            volume=p.volume,
            status="filled",
        )
    return None


def settle_close(trail: Trail, coid: ClientOrderId) -> tuple[DoneStatus, Fill] | None:
    """A closing deal found at the terminal; None when it never happened."""
    exits = [d for d in trail.deals if d.entry != 0]
    if not exits:
        return None
    first = exits[0]
    return "closed", Fill(
        client_order_id=coid,
        order=first.order,
        deal=first.ticket,
        position=first.position_id,
        price=first.price,
        volume=sum((d.volume for d in exits), Decimal(0)),
        status="closed",
    )
