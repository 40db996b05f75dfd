"""Applying a validated trade request to a book, recording history and the journal."""

from ._book import Book, PendingOrder, Position
from ._constants import (
    DEAL_ENTRY_IN,
    DEAL_ENTRY_OUT,
    DEAL_REASON_EXPERT,
    DEAL_TYPE_BUY,
    DEAL_TYPE_SELL,
    ORDER_REASON_EXPERT,
    ORDER_STATE_CANCELED,
    ORDER_STATE_FILLED,
    ORDER_TYPE_BUY,
    POSITION_TYPE_BUY,
    POSITION_TYPE_SELL,
    TRADE_ACTION_DEAL,
    TRADE_ACTION_MODIFY,
    TRADE_ACTION_PENDING,
    TRADE_ACTION_SLTP,
    TRADE_RETCODE_DONE,
)
from ._state import Terminal
from ._trade_types import OrderSendResult, TradeDeal, TradeOrder, TradeRequest


def execute(t: Terminal, book: Book, req: TradeRequest) -> OrderSendResult:
    """Carry out ``req`` (already validated) and return the DONE result."""
    if req.action == TRADE_ACTION_DEAL:
        return _deal(t, book, req)
    if req.action == TRADE_ACTION_PENDING:
        order, symbol, order_type = _place(t, book, req), req.symbol, req.type
    elif req.action == TRADE_ACTION_SLTP:
        pos = book.positions[req.position]
        pos.sl, pos.tp, pos.time_update_ms = req.sl, req.tp, t.clock.now_ms()
        order, symbol, order_type = 0, pos.symbol, pos.type
    elif req.action == TRADE_ACTION_MODIFY:
        pending = book.orders[req.order]
        pending.price, pending.sl, pending.tp = req.price, req.sl, req.tp
        pending.stoplimit, pending.type_time = req.stoplimit, req.type_time
        pending.expiration = req.expiration
        order, symbol, order_type = pending.ticket, pending.symbol, pending.type
    else:  # TRADE_ACTION_REMOVE
        pending = book.orders.pop(req.order)
        order, symbol, order_type = _cancel(t, book, pending), pending.symbol, pending.type
    _journal(
        t,
        book,
        req,
        symbol=symbol,
        order_type=order_type,
        order=order,
        deal=0,
        price=req.price,
    )
    return _done(t, req, order=order, deal=0, price=0.0, bid=0.0, ask=0.0)


def _done(
    t: Terminal,
    req: TradeRequest,
    *,
    order: int,
    deal: int,
    price: float,
    bid: float,
    ask: float,
) -> OrderSendResult:
    volume = req.volume if req.action in (TRADE_ACTION_DEAL, TRADE_ACTION_PENDING) else 0.0
    return OrderSendResult(
        retcode=TRADE_RETCODE_DONE,
        deal=deal,
        order=order,
        volume=volume,
        price=price,
        bid=bid,
        ask=ask,
        comment="Request executed",
        request_id=t.next_request_id(),
        retcode_external=0,
        request=req,
    )


def _history_order(
    ticket: int,
    req: TradeRequest,
    symbol: str,
    price: float,
    now_ms: int,
    position_id: int,
    *,
    state: int = ORDER_STATE_FILLED,
    setup_ms: int | None = None,
) -> TradeOrder:
    setup = now_ms if setup_ms is None else setup_ms
    return TradeOrder(
        ticket=ticket,
        time_setup=setup // 1000,
        time_setup_msc=setup,
        time_done=now_ms // 1000,
        time_done_msc=now_ms,
        time_expiration=req.expiration,
        type=req.type,
        type_time=req.type_time,
        type_filling=req.type_filling,
        state=state,
        magic=req.magic,
        position_id=position_id,
        position_by_id=0,
        reason=ORDER_REASON_EXPERT,
        volume_initial=req.volume,
        volume_current=0.0 if state == ORDER_STATE_FILLED else req.volume,
        price_open=price,
        sl=req.sl,
        tp=req.tp,
        price_current=price,
        price_stoplimit=req.stoplimit,
        symbol=symbol,
        comment=req.comment,
        external_id="",
    )


def _deal(t: Terminal, book: Book, req: TradeRequest) -> OrderSendResult:
    now = t.clock.now_ms()
    closing = book.positions.get(req.position) if req.position else None
    symbol = closing.symbol if closing is not None else req.symbol
    bid, ask = t.market.quote(symbol)
    is_buy = req.type == ORDER_TYPE_BUY
    price = ask if is_buy else bid
    order, deal = t.next_order(), t.next_deal()
    profit = swap = 0.0
    commission = -round(book.account.commission_per_lot * req.volume, 2)
    book.balance = round(book.balance + commission, 2)
    if closing is None:
        position = order
        book.positions[order] = Position(
            ticket=order,
            symbol=symbol,
            type=POSITION_TYPE_BUY if is_buy else POSITION_TYPE_SELL,
            volume=req.volume,
            price_open=price,
            sl=req.sl,
            tp=req.tp,
            magic=req.magic,
            comment=req.comment,
            time_ms=now,
            time_update_ms=now,
        )
    else:
        position = closing.ticket
        profit = round(
            t.market.profit(
                symbol,
                closing.is_buy,
                req.volume,
                closing.price_open,
                price,
                book.account.currency,
            ),
            2,
        )
        swap = round(closing.swap * min(req.volume / closing.volume, 1.0), 2)
        closing.swap = round(closing.swap - swap, 2)
        book.balance = round(book.balance + profit + swap, 2)
        closing.volume = round(closing.volume - req.volume, 8)
        closing.time_update_ms = now
        if closing.volume <= 1e-9:
            del book.positions[closing.ticket]
    book.history_orders.append(_history_order(order, req, symbol, price, now, position))
    book.history_deals.append(
        TradeDeal(
            ticket=deal,
            order=order,
            time=now // 1000,
            time_msc=now,
            type=DEAL_TYPE_BUY if is_buy else DEAL_TYPE_SELL,
            entry=DEAL_ENTRY_IN if closing is None else DEAL_ENTRY_OUT,
            magic=req.magic,
            position_id=position,
            reason=DEAL_REASON_EXPERT,
            volume=req.volume,
            price=price,
            commission=commission,
            swap=swap,
            profit=profit,
            fee=0.0,
            symbol=symbol,
            comment=req.comment,
            external_id="",
        )
    )
    _journal(
        t,
        book,
        req,
        symbol=symbol,
        order_type=req.type,
        order=order,
        deal=deal,
        price=price,
        position=position,
    )
    return _done(t, req, order=order, deal=deal, price=price, bid=bid, ask=ask)


def _place(t: Terminal, book: Book, req: TradeRequest) -> int:
    ticket = t.next_order()
    book.orders[ticket] = PendingOrder(
        ticket=ticket,
        symbol=req.symbol,
        type=req.type,
        volume=req.volume,
        price=req.price,
        stoplimit=req.stoplimit,
        sl=req.sl,
        tp=req.tp,
        magic=req.magic,
        comment=req.comment,
        type_time=req.type_time,
        type_filling=req.type_filling,
        expiration=req.expiration,
        time_ms=t.clock.now_ms(),
    )
    return ticket


def _cancel(t: Terminal, book: Book, order: PendingOrder) -> int:
    placed = TradeRequest(
        action=TRADE_ACTION_PENDING,
        magic=order.magic,
        order=order.ticket,
        symbol=order.symbol,
        volume=order.volume,
        price=order.price,
        stoplimit=order.stoplimit,
        sl=order.sl,
        tp=order.tp,
        deviation=0,
        type=order.type,
        type_filling=order.type_filling,
        type_time=order.type_time,
        expiration=order.expiration,
        comment=order.comment,
        position=0,
        position_by=0,
    )
    book.history_orders.append(
        _history_order(
            order.ticket,
            placed,
            order.symbol,
            order.price,
            t.clock.now_ms(),
            0,
            state=ORDER_STATE_CANCELED,
            setup_ms=order.time_ms,
        )
    )
    return order.ticket


def _journal(
    t: Terminal,
    book: Book,
    req: TradeRequest,
    *,
    symbol: str,
    order_type: int,
    order: int,
    deal: int,
    price: float,
    position: int | None = None,
) -> None:
    t.journal.append(
        {
            "ts": t.clock.now_ms() / 1000,
            "login": book.account.login,
            "server": book.account.server,
            "action": req.action,
            "symbol": symbol,
            "type": order_type,
            "volume": req.volume,
            "price": price,
            "order": order,
            "deal": deal,
            "position": req.position if position is None else position,
            "magic": req.magic,
            "comment": req.comment,
            "sl": req.sl,
            "tp": req.tp,
        }
    )
