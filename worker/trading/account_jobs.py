"""The account job kinds, for every venue: verify, switch, sync."""

from __future__ import annotations

from typing import Any

from switchyard.domain import AccountSnapshot
from worker.outcome import Outcome, Succeeded
from worker.trading import records
from worker.trading.context import JobContext
from worker.venue import AccountReport, OrderStatusReport


def snapshot(report: AccountReport) -> dict[str, Any]:
    return AccountSnapshot(
        balance=report.balance,
        equity=report.equity,
        margin=report.margin,
        free_margin=report.free_margin,
        currency=report.currency,
        leverage=report.leverage,
        login=report.login,
        server=report.server,
        permissions=dict(report.permissions),
    ).model_dump(mode="json") | (
        {"assets": {asset: str(amount) for asset, amount in report.assets.items()}}
        if report.assets
        else {}
    )


def open_order(order: OrderStatusReport) -> dict[str, Any]:
    """A working order as a sync's result lists it."""
    return {
        "order": order.venue_order_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": None if order.side is None else order.side.value,
        "type": None if order.order_type is None else order.order_type.value,
        "price": None if order.price is None else str(order.price),
        "volume": str(order.quantity),
        "filled": str(order.filled),
    }


def run_verify(ctx: JobContext) -> Outcome:
    """Log in with the stored credentials (even if already on the account) and record it."""
    with ctx.venue.on_account(ctx.account, verify=True) as session:
        report = session.account
    records.mark_verified(ctx.conn, ctx.account, report, ctx.verify_interval_s)
    return Succeeded(snapshot(report))


def run_switch(ctx: JobContext) -> Outcome:
    """Put the venue session on the account now, so that its next trade needs no login."""
    with ctx.venue.on_account(ctx.account) as session:
        return Succeeded(snapshot(session.account))


def run_sync(ctx: JobContext) -> Outcome:
    """Balance snapshot, open positions, and the fills since the last one we have."""
    since = records.history_since(ctx.conn, ctx.account.id)
    with ctx.venue.on_account(ctx.account) as session:
        traded = records.traded_symbols(ctx.conn, ctx.account.id, since, session)
        report = session.account
        positions = session.positions()
        open_orders = session.open_orders()
        fills = session.fills(since, traded=traded)
    counts = records.store_sync(ctx.conn, ctx.account, report, positions, fills, job_id=ctx.job.id)
    result = snapshot(report)
    result["positions"] = len(positions)
    result["open_orders"] = [open_order(o) for o in open_orders]
    result["new_deals"] = counts.new
    result["conflicting_deals"] = counts.conflicting
    return Succeeded(result)
