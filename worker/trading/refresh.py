"""Right after a trade, in the same venue session: what the venue now says the account is.

A trade changes the account's positions, balance and history at once, and people look
at them at once: waiting for the next scheduled sync (minutes) would show a position
that is gone or hide the one just opened. So every trade the venue carried out is
followed, before the session ends, by `VenueSession.refresh()` (the account and every
open position, read again) and the fills since the last stored deal, written exactly as
a sync writes them (`records.store_sync`: a balance snapshot, positions replaced, deals
stored once).

The trade's outcome never depends on this: a venue that cannot answer now, a terminal
found on another account or a lease lost meanwhile leaves the stored rows to the next
sync, with a log line (the trade is already journalled and answered from the journal).
"""

from __future__ import annotations

import logging

from switchyard.errors import LeaseLost, VenueError, WrongAccount
from worker.outcome import Outcome, Succeeded
from worker.trading import records
from worker.trading.context import JobContext
from worker.venue import VenueSession

log = logging.getLogger(__name__)


def after_trade(ctx: JobContext, session: VenueSession, outcome: Outcome) -> Outcome:
    """`outcome`, unchanged; when the trade succeeded, the account refreshed first."""
    if isinstance(outcome, Succeeded):
        refresh(ctx, session)
    return outcome


def refresh(ctx: JobContext, session: VenueSession) -> bool:
    """Store what the venue reports now; False when it could not say (logged)."""
    since = records.history_since(ctx.conn, ctx.account.id)
    traded = records.traded_symbols(ctx.conn, ctx.account.id, since, session)
    try:
        state = session.refresh()
        fills = session.fills(since, traded=traded)
    except (VenueError, WrongAccount, LeaseLost) as exc:
        log.warning(
            "job %s: account %s not refreshed after the trade (%s); the next sync will",
            ctx.job.id,
            ctx.account.id,
            exc,
        )
        return False
    counts = records.store_sync(
        ctx.conn, ctx.account, state.account, state.positions, fills, job_id=ctx.job.id
    )
    log.debug(
        "job %s: %d open positions, %d new deals after the trade",
        ctx.job.id,
        len(state.positions),
        counts.new,
    )
    return True
