"""The account job kinds on an MT5 terminal: verify, switch, sync."""

from __future__ import annotations

import time
from datetime import timedelta

from functions.core.domain import AccountSnapshot
from worker import accounts
from worker.mt5.context import Mt5Context
from worker.mt5.session import Mt5Account
from worker.mt5.types import AccountInfo
from worker.outcome import Outcome, Succeeded
from worker.queue import Job

#: The first sync reads this much history; later ones from the last deal on.
FIRST_SYNC_HISTORY_S = 30 * 86_400
#: History is kept in the trade server's time zone: read this far around the window.
HISTORY_SLACK_S = 2 * 86_400


def snapshot(info: AccountInfo) -> dict[str, object]:
    return AccountSnapshot(
        balance=info.balance,
        equity=info.equity,
        margin=info.margin,
        free_margin=info.margin_free,
        currency=info.currency,
        leverage=info.leverage,
        login=str(info.login),
        server=info.server,
        permissions=accounts.permissions_of(info),
    ).model_dump(mode="json")


def run_verify(ctx: Mt5Context, job: Job, account: Mt5Account) -> Outcome:
    """Log in with the stored credentials (even if already on the account) and record it."""
    info = ctx.session.verify(account)
    accounts.mark_verified(ctx.conn, account, info, ctx.verify_interval_s)
    return Succeeded(snapshot(info))


def run_switch(ctx: Mt5Context, job: Job, account: Mt5Account) -> Outcome:
    """Put the terminal on the account now, so that its next trade needs no login."""
    with ctx.session.critical(account) as info:
        return Succeeded(snapshot(info))


def run_sync(ctx: Mt5Context, job: Job, account: Mt5Account) -> Outcome:
    """Balance snapshot, open positions, and the deals since the last one we have."""
    last = accounts.last_deal_time(ctx.conn, account.id)
    now_s = int(time.time())
    since_s = (
        int((last - timedelta(seconds=HISTORY_SLACK_S)).timestamp())
        if last is not None
        else now_s - FIRST_SYNC_HISTORY_S
    )
    with ctx.session.critical(account) as info:
        bridge = ctx.session.bridge
        positions = bridge.positions()
        deals = bridge.history_deals(since_s, now_s + HISTORY_SLACK_S)
    new_deals = accounts.store_sync(ctx.conn, account, info, positions, deals)
    result = snapshot(info)
    result["positions"] = len(positions)
    result["new_deals"] = new_deals
    return Succeeded(result)
