"""The signal job kind: one channel alert on one subscriber's account.

`buy` / `sell` open at market, sized now (`sizing`) from the account's balance as the
venue reports it inside the session and the symbol's contract specification, and sent
through the same journal → send once → settle path as any order (its client order id is
the signal job's). A retried job answers from the journal or looks its order up first,
exactly as an order job does, and never sizes a second order. On a symbol whose leverage
an order sets at the venue (an exchange perpetual) the order carries the subscription's
`leverage`, so the position there has the leverage the sizing assumed; elsewhere (spot,
where there is none; MT5, where it is the account's) the order carries none. The order
carries the alert's stops or the subscription's `sl_pct`/`tp_pct` of the entry where the
symbol takes them (`SymbolSpec.stops_attachable`: MT5, Bybit and OKX perpetuals); a signal
that asks for stops elsewhere fails with nothing sent, never opens without them.

`close`, `close_long`, `close_short` and `cancel` may touch several positions or orders:
the job queues one ordinary close or cancel job per target (each with its own client
order id, its idempotency key derived from this job and the target, so a retried signal
job queues none twice) and succeeds with their ids. Those jobs carry the signal and
subscription they came from.
"""

from __future__ import annotations

import json
from typing import Any

from switchyard.domain import (
    ErrorCode,
    OrderPayload,
    OrderType,
    Side,
    SignalAction,
    SignalPayload,
)
from switchyard.queries import queries
from worker.outcome import Outcome, Succeeded, failed
from worker.trading import reconcile, sizing
from worker.trading.context import JobContext
from worker.trading.journal import DONE_STATUSES
from worker.trading.orders import refused
from worker.trading.refresh import after_trade
from worker.trading.risk import check_order
from worker.trading.sending import send
from worker.venue import Refusal, VenueSession

OPENING = {SignalAction.BUY: Side.BUY, SignalAction.SELL: Side.SELL}
#: Which positions each close action closes (None: both sides).
CLOSING: dict[SignalAction, Side | None] = {
    SignalAction.CLOSE: None,
    SignalAction.CLOSE_LONG: Side.BUY,
    SignalAction.CLOSE_SHORT: Side.SELL,
}


def run_signal(ctx: JobContext, payload: SignalPayload) -> Outcome:
    if payload.action in OPENING:
        return _open(ctx, payload, OPENING[payload.action])
    return _queue_targets(ctx, payload)


def _open(ctx: JobContext, payload: SignalPayload, side: Side) -> Outcome:
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
        return after_trade(ctx, session, _size_and_send(ctx, session, payload, side))


def _size_and_send(
    ctx: JobContext, session: VenueSession, payload: SignalPayload, side: Side
) -> Outcome:
    if payload.max_open_positions is not None:
        held = len(session.positions())
        if held >= payload.max_open_positions:
            return failed(
                ErrorCode.RISK_LIMIT,
                f"the account holds {held} open positions, the subscription's "
                f"max_open_positions is {payload.max_open_positions}; nothing was sent",
            )
    spec = session.symbol_spec(payload.symbol)
    if isinstance(spec, Refusal):
        return refused(spec)
    price = sizing.entry_price(side, spec)
    stops = sizing.stops(payload, side, price, spec)
    if (stops.sl is not None or stops.tp is not None) and not spec.stops_attachable:
        return failed(
            ErrorCode.INVALID_STOPS,
            f"the signal asks for a stop loss or take profit (the alert's sl/tp or the "
            f"subscription's sl_pct/tp_pct), and an order on {payload.symbol} cannot carry "
            "one on this account (on exchanges only Bybit and OKX perpetuals take them); "
            "nothing was sent",
        )
    balance = session.account.balance
    sized = sizing.volume(payload, balance=balance, spec=spec, entry=price, sl=stops.sl)
    if isinstance(sized, sizing.TooSmall):
        return failed(ErrorCode.INVALID_VOLUME, sized.message)
    order = OrderPayload(
        symbol=payload.symbol,
        side=side,
        type=OrderType.MARKET,
        volume=sized.volume,
        sl=stops.sl,
        tp=stops.tp,
        deviation=payload.deviation,
        leverage=payload.leverage if spec.leverage_settable else None,
    )
    if (limit := check_order(ctx.account.risk_limits, order)) is not None:
        return limit
    prepared = session.prepare_order(order, ctx.coid)
    if isinstance(prepared, Refusal):
        return refused(prepared)
    outcome = send(ctx, session, prepared)
    if isinstance(outcome, Succeeded):
        explained = sized.explained(payload.sizing.mode.value, balance)
        return Succeeded({**outcome.result, "sizing": explained})
    return outcome


def _queue_targets(ctx: JobContext, payload: SignalPayload) -> Outcome:
    with ctx.venue.on_account(ctx.account) as session:
        bodies: list[dict[str, Any]]
        if payload.action is SignalAction.CANCEL:
            kind = "cancel"
            bodies = [
                {"order": o.venue_order_id}
                for o in session.open_orders()
                if o.symbol == payload.symbol
            ]
        else:
            kind, wanted = "close", CLOSING[payload.action]
            bodies = [
                {"position": p.venue_position_id, "deviation": payload.deviation}
                for p in session.positions()
                if p.symbol == payload.symbol and wanted in (None, p.side)
            ]
    if not bodies:
        what = "pending orders" if kind == "cancel" else "matching positions"
        return Succeeded({"action": payload.action.value, "queued": [], "note": f"no {what}"})
    with ctx.conn.transaction():
        rows = ctx.conn.execute(
            queries["queue_signal_targets"],
            {"parent": ctx.job.id, "kind": kind, "payloads": [json.dumps(b) for b in bodies]},
        ).fetchall()
    ids = sorted(str(r["id"]) for r in rows)
    return Succeeded({"action": payload.action.value, "kind": kind, "queued": ids})
