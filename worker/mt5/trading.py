"""The trade job kinds on an MT5 terminal: order, close, modify, cancel.

Each runs inside the session's critical section. A journal row left `sent` or
`unknown` by an earlier attempt (a crash, a timeout) is resolved first: orders and
closes are looked up by client order id at the terminal; modify and cancel are
judged by the state they aim for (already there = done). Only what provably did not
happen is sent again, and not after the attempt cap.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from functions.core.domain import (
    CancelPayload,
    ClientOrderId,
    ClosePayload,
    ErrorCode,
    Fill,
    ModifyPayload,
    OrderPayload,
    client_order_id,
)
from worker.errors import TerminalUnavailable
from worker.journal import DONE_STATUSES, UNSURE_STATUSES, DoneStatus, Entry, Intent
from worker.mt5 import requests
from worker.mt5.context import Mt5Context
from worker.mt5.sending import look_up, send, settle_close, settle_open
from worker.mt5.session import Mt5Account
from worker.mt5.types import Order, Position, SendResult, Trail
from worker.outcome import Failed, Outcome, Succeeded, failed
from worker.queue import Job
from worker.risk import check_order

log = logging.getLogger(__name__)

_ORDER_STATE_CANCELED = 2
_ORDER_STATE_FILLED = 4


def _from_journal(coid: ClientOrderId, entry: Entry) -> Succeeded:
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


def _ticket(text: str, what: str) -> int | Failed:
    if not text.isdigit():
        return failed(ErrorCode.INVALID_REQUEST, f"{what} {text!r} is not an MT5 ticket number")
    return int(text)


def _gave_up(ctx: Mt5Context, job: Job, coid: ClientOrderId) -> Failed:
    reason = (
        f"not executed: gave up after {job.max_attempts} attempts; the terminal confirms "
        "the order was never carried out"
    )
    ctx.journal.outcome(job.user_id, coid, "rejected", reason=reason)
    return failed(ErrorCode.VENUE_UNAVAILABLE, reason)


def _resolve(
    ctx: Mt5Context, job: Job, coid: ClientOrderId, entry: Entry | None, *, closing: bool = False
) -> Outcome | None:
    """After doubt: the outcome if the order is found (or must not be resent), else None."""
    if entry is None or entry.status not in UNSURE_STATUSES:
        return None
    trail: Trail = look_up(ctx, coid, job.created_at)
    found = settle_close(trail, coid) if closing else settle_open(trail, coid)
    if found is not None:
        status, fill = found
        log.info("job %s: client order id %s found at the terminal (%s)", job.id, coid, status)
        ctx.journal.outcome(
            job.user_id,
            coid,
            status,
            venue_order_id=fill.order,
            filled_volume=fill.volume,
            fill_price=fill.price,
        )
        return Succeeded(fill.model_dump(mode="json"))
    if job.attempts > job.max_attempts:
        return _gave_up(ctx, job, coid)
    log.info("job %s: client order id %s provably not executed; sending again", job.id, coid)
    return None


def run_order(ctx: Mt5Context, job: Job, account: Mt5Account, payload: OrderPayload) -> Outcome:
    coid = client_order_id(job.id)
    refused = check_order(account.risk_limits, payload)
    if refused is not None:
        return refused
    entry = ctx.journal.get(job.user_id, coid)
    if entry is not None and entry.status in DONE_STATUSES:
        return _from_journal(coid, entry)
    with ctx.session.critical(account):
        resolved = _resolve(ctx, job, coid, entry)
        if resolved is not None:
            return resolved
        bridge = ctx.session.bridge
        symbol = bridge.symbol_info(payload.symbol)
        tick = bridge.tick(payload.symbol)
        if symbol is None or tick is None:
            return failed(
                ErrorCode.INVALID_REQUEST,
                f"the symbol {payload.symbol} is not known to this account's server",
            )
        request = requests.open_request(payload, symbol, tick, ctx.magic, coid)
        intent = Intent(
            user_id=job.user_id,
            account_id=account.id,
            job_id=job.id,
            client_order_id=coid,
            action="open",
            symbol=payload.symbol,
            side=payload.side.value,
            order_type=payload.type.value,
            volume=payload.volume,
            price=payload.price if payload.price is not None else Decimal(str(request["price"])),
            sl=payload.sl,
            tp=payload.tp,
        )
        done: DoneStatus = "filled" if request["action"] == 1 else "placed"

        def fill_from(result: SendResult) -> Fill:
            return Fill(
                client_order_id=coid,
                order=result.order,
                deal=result.deal,
                position=result.order if done == "filled" else None,
                price=result.price or intent.price,
                volume=result.volume or payload.volume,
                retcode=result.retcode,
                status=done,
            )

        return send(ctx, intent, request, done, fill_from)


def run_close(ctx: Mt5Context, job: Job, account: Mt5Account, payload: ClosePayload) -> Outcome:
    coid = client_order_id(job.id)
    ticket = _ticket(payload.position, "position")
    if isinstance(ticket, Failed):
        return ticket
    entry = ctx.journal.get(job.user_id, coid)
    if entry is not None and entry.status in DONE_STATUSES:
        return _from_journal(coid, entry)
    with ctx.session.critical(account):
        resolved = _resolve(ctx, job, coid, entry, closing=True)
        if resolved is not None:
            return resolved
        bridge = ctx.session.bridge
        found = bridge.positions(ticket=ticket)
        if not found:
            return failed(ErrorCode.NOT_FOUND, f"position {ticket} is not open on this account")
        position = found[0]
        volume = payload.volume if payload.volume is not None else position.volume
        if volume > position.volume:
            return failed(
                ErrorCode.INVALID_VOLUME,
                f"cannot close {volume} lots: position {ticket} has {position.volume}",
            )
        symbol = bridge.symbol_info(position.symbol)
        tick = bridge.tick(position.symbol)
        if symbol is None or tick is None:
            return failed(ErrorCode.MARKET_CLOSED, f"no quote for {position.symbol} right now")
        request = requests.close_request(
            position, volume, symbol, tick, payload.deviation, ctx.magic, coid
        )
        intent = Intent(
            user_id=job.user_id,
            account_id=account.id,
            job_id=job.id,
            client_order_id=coid,
            action="close",
            symbol=position.symbol,
            side="sell" if request["type"] == 1 else "buy",
            order_type="market",
            volume=volume,
            price=Decimal(str(request["price"])),
        )

        def fill_from(result: SendResult) -> Fill:
            return Fill(
                client_order_id=coid,
                order=result.order,
                deal=result.deal,
                position=position.ticket,
                price=result.price,
                volume=result.volume or volume,
                retcode=result.retcode,
                status="closed",
            )

        outcome = send(ctx, intent, request, "closed", fill_from)
        _refresh_position(ctx, account, position.ticket)
        return outcome


def _refresh_position(ctx: Mt5Context, account: Mt5Account, ticket: str) -> None:
    """Best effort after a trade: the position as it is now (the next sync catches up)."""
    from worker.accounts import store_position

    try:
        now = ctx.session.bridge.positions(ticket=int(ticket))
    except TerminalUnavailable:
        log.info("position %s not refreshed after the trade; the next sync will", ticket)
        return
    store_position(ctx.conn, account, now[0] if now else None, ticket)


def _unchanged(current: tuple[object, ...], wanted: tuple[object, ...]) -> bool:
    return current == wanted


def run_modify(ctx: Mt5Context, job: Job, account: Mt5Account, payload: ModifyPayload) -> Outcome:
    coid = client_order_id(job.id)
    target = payload.position if payload.position is not None else payload.order
    assert target is not None  # the payload model guarantees exactly one
    ticket = _ticket(target, "position" if payload.position is not None else "order")
    if isinstance(ticket, Failed):
        return ticket
    with ctx.session.critical(account):
        bridge = ctx.session.bridge
        modified = Succeeded(
            Fill(client_order_id=coid, order=str(ticket), status="modified").model_dump(mode="json")
        )
        if payload.position is not None:
            positions: tuple[Position, ...] = bridge.positions(ticket=ticket)
            if not positions:
                return failed(ErrorCode.NOT_FOUND, f"position {ticket} is not open")
            p = positions[0]
            sl = payload.sl if payload.sl is not None else p.sl
            tp = payload.tp if payload.tp is not None else p.tp
            if _unchanged((p.sl, p.tp), (sl, tp)):
                ctx.journal.outcome(job.user_id, coid, "modified")
                return modified
            request = requests.sltp_request(p, sl, tp, ctx.magic, coid)
            symbol, price = p.symbol, None
        else:
            orders: tuple[Order, ...] = bridge.orders(ticket=ticket)
            if not orders:
                return failed(
                    ErrorCode.NOT_FOUND,
                    f"pending order {ticket} does not exist (filled or cancelled)",
                )
            o = orders[0]
            price = payload.price if payload.price is not None else o.price_open
            sl = payload.sl if payload.sl is not None else o.sl
            tp = payload.tp if payload.tp is not None else o.tp
            if _unchanged((o.price_open, o.sl, o.tp), (price, sl, tp)):
                ctx.journal.outcome(job.user_id, coid, "modified")
                return modified
            request = requests.modify_order_request(o, price, sl, tp, ctx.magic, coid)
            symbol = o.symbol
        intent = Intent(
            user_id=job.user_id,
            account_id=account.id,
            job_id=job.id,
            client_order_id=coid,
            action="modify",
            symbol=symbol,
            price=price,
            sl=sl,
            tp=tp,
        )

        def fill_from(result: SendResult) -> Fill:
            return Fill(
                client_order_id=coid, order=str(ticket), retcode=result.retcode, status="modified"
            )

        return send(ctx, intent, request, "modified", fill_from)


def run_cancel(ctx: Mt5Context, job: Job, account: Mt5Account, payload: CancelPayload) -> Outcome:
    coid = client_order_id(job.id)
    ticket = _ticket(payload.order, "order")
    if isinstance(ticket, Failed):
        return ticket
    with ctx.session.critical(account):
        bridge = ctx.session.bridge
        orders = bridge.orders(ticket=ticket)
        if not orders:
            answer = bridge.call("history_orders_get", ticket=ticket)
            states = [int(o["state"]) for o in (answer.value or [])]
            if _ORDER_STATE_CANCELED in states:
                ctx.journal.outcome(job.user_id, coid, "cancelled")
                return Succeeded(
                    Fill(client_order_id=coid, order=str(ticket), status="cancelled").model_dump(
                        mode="json"
                    )
                )
            if _ORDER_STATE_FILLED in states:
                return failed(
                    ErrorCode.NOT_FOUND,
                    f"pending order {ticket} was filled before it could be cancelled",
                )
            return failed(ErrorCode.NOT_FOUND, f"pending order {ticket} does not exist")
        o = orders[0]
        intent = Intent(
            user_id=job.user_id,
            account_id=account.id,
            job_id=job.id,
            client_order_id=coid,
            action="cancel",
            symbol=o.symbol,
            volume=o.volume_current,
            price=o.price_open,
        )

        def fill_from(result: SendResult) -> Fill:
            return Fill(
                client_order_id=coid, order=str(ticket), retcode=result.retcode, status="cancelled"
            )

        return send(
            ctx,
            intent,
            request=requests.remove_request(o, ctx.magic, coid),
            done="cancelled",
            fill_from=fill_from,
        )
