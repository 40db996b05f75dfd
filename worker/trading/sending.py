"""Sending one trade request exactly once: journal first, send, settle; look up after doubt.

Called inside the venue session (verified on the job's account). Before the send: the
job lease must outlast the call, the intent is committed to the journal as `sent`, and
the job's time-to-live must not have run out (a slow login must not push a market order
past it). After it, the venue's verdict decides: done (journalled, the job succeeds),
rejected (journalled; retried later when the venue says it is worth it, else failed) or
ambiguous (journalled `unknown`; the next attempt looks the client order id up first).
A request that carries a leverage (an exchange perpetual's) has it set at the venue after
the journal row and before the send; when that fails nothing was ordered, so it is
journalled `rejected` (never `unknown`: there is no order to look up) and retried or
failed like a rejected send. A retried job whose order was already placed never gets
here: its look-up comes first (`reconcile.resolve`).
When the venue refuses our credentials at the send (a revoked exchange key), nothing
happened there either: the rejection is journalled, and the account is then failed or
disabled as after a refused login.
"""

from __future__ import annotations

from switchyard.domain import ClientOrderId, ErrorCode, Fill
from switchyard.errors import CredentialsRejected
from worker.crashpoints import crash_point
from worker.outcome import Outcome, Succeeded, expired, failed, retry
from worker.trading.context import JobContext
from worker.trading.journal import Intent
from worker.venue import Ambiguous, Done, Execution, Prepared, Rejected, VenueSession


def fill_of(coid: ClientOrderId, execution: Execution) -> Fill:
    """An execution as the job's result (`jobs.result`)."""
    return Fill(
        client_order_id=coid,
        order=execution.venue_order_id,
        deal=execution.venue_fill_id,
        position=execution.venue_position_id,
        price=execution.price,
        volume=execution.volume,
        retcode=execution.venue_code,
        status=execution.status,
    )


def intent_of(ctx: JobContext, prepared: Prepared) -> Intent:
    return Intent(
        user_id=ctx.job.user_id,
        account_id=ctx.account.id,
        job_id=ctx.job.id,
        client_order_id=prepared.client_order_id,
        action=prepared.action,
        symbol=prepared.symbol,
        side=prepared.side,
        order_type=prepared.order_type,
        volume=prepared.volume,
        price=prepared.price,
        sl=prepared.sl,
        tp=prepared.tp,
    )


def send(ctx: JobContext, session: VenueSession, prepared: Prepared) -> Outcome:
    """Journal, send once, and turn the venue's verdict into the job's outcome."""
    coid, user = prepared.client_order_id, ctx.job.user_id
    ctx.job_lease.require(ctx.send_margin_s)
    if not ctx.journal.sent(intent_of(ctx, prepared)):
        # The journal already says done: the next attempt answers from it.
        return retry(
            ErrorCode.VENUE_UNAVAILABLE, "an earlier attempt already finished", ambiguous=True
        )
    unset = _set_leverage(ctx, session, prepared) if prepared.leverage is not None else None
    if unset is not None:
        return unset
    if ctx.deadline.passed():
        ctx.journal.outcome(user, coid, "rejected", reason="not sent: its time-to-live ran out")
        return expired("before the order could be sent")
    crash_point("before_send")
    verdict = session.submit(prepared)
    crash_point("after_send")
    if isinstance(verdict, Done):
        fill = fill_of(coid, verdict.execution)
        ctx.journal.outcome(
            user,
            coid,
            verdict.execution.status,
            venue_order_id=fill.order,
            filled_volume=fill.volume,
            fill_price=fill.price,
            retcode=verdict.execution.venue_code,
        )
        return Succeeded(fill.model_dump(mode="json"))
    if isinstance(verdict, Ambiguous):
        ctx.journal.outcome(
            user,
            coid,
            "unknown",
            retcode=verdict.venue_code,
            reason=verdict.reason or verdict.message,
        )
        return retry(verdict.code, f"{verdict.message}; it will be looked up", ambiguous=True)
    return _rejected(ctx, coid, verdict)


def _set_leverage(ctx: JobContext, session: VenueSession, prepared: Prepared) -> Outcome | None:
    """The leverage the request carries, set at the venue before it is sent; the job's
    outcome when it could not be (nothing was ordered), else None."""
    if ctx.deadline.passed():
        return None  # expired by the caller's check before anything is set
    refused = session.apply_leverage(prepared)
    if refused is not None:
        return _rejected(ctx, prepared.client_order_id, refused)
    ctx.job_lease.require(ctx.send_margin_s)  # setting it took a call: still enough left?
    return None


def _rejected(ctx: JobContext, coid: ClientOrderId, verdict: Rejected) -> Outcome:
    """Journalled `rejected`: retried when worth it, the account's key refused, or failed."""
    user = ctx.job.user_id
    ctx.journal.outcome(user, coid, "rejected", retcode=verdict.venue_code, reason=verdict.message)
    if verdict.code is ErrorCode.CREDENTIALS_REJECTED:
        raise CredentialsRejected(verdict.message)  # the dispatch fails or disables the account
    if verdict.retryable:
        return retry(verdict.code, verdict.message)
    return failed(verdict.code, verdict.message, retcode=verdict.venue_code)
