"""order_check and order_send, including the order_send fault switches."""

from ._checks import OK, comment_for, validate
from ._constants import ORDER_TYPE_BUY, TRADE_ACTION_DEAL
from ._execute import execute
from ._faults import drop_current_connection
from ._requests import InvalidArgumentError, parse_request
from ._state import ERR_IPC_TIMEOUT, ERR_SUCCESS, Terminal, invalid_argument, terminal
from ._trade_types import OrderCheckResult, OrderSendResult, TradeRequest


def _parse(t: Terminal, request: object) -> TradeRequest | None:
    try:
        return parse_request(request)
    except InvalidArgumentError as exc:
        t.last_error = invalid_argument(str(exc))
        return None


def _rejected(t: Terminal, retcode: int, req: TradeRequest) -> OrderSendResult:
    bid = ask = 0.0
    if t.market.spec(req.symbol) is not None:
        bid, ask = t.market.quote(req.symbol)
    return OrderSendResult(
        retcode=retcode,
        deal=0,
        order=0,
        volume=0.0,
        price=0.0,
        bid=bid,
        ask=ask,
        comment=comment_for(retcode),
        request_id=0,
        retcode_external=0,
        request=req,
    )


def order_check(request: object) -> OrderCheckResult | None:
    """Check a request without executing it; retcode 0 and comment 'Done' when it would pass."""
    t = terminal()
    with t.lock:
        book = t.current_book()
        if book is None:
            return None
        req = _parse(t, request)
        if req is None:
            return None
        retcode = validate(t, book, req)
        margin = book.used_margin(t.market)
        if retcode == OK and req.action == TRADE_ACTION_DEAL and not req.position:
            bid, ask = t.market.quote(req.symbol)
            price = ask if req.type == ORDER_TYPE_BUY else bid
            margin += t.market.margin(
                req.symbol, req.volume, price, book.account.leverage, book.account.currency
            )
        equity = book.equity(t.market)
        t.last_error = ERR_SUCCESS
        return OrderCheckResult(
            retcode=retcode,
            balance=round(book.balance, 2),
            equity=equity,
            profit=book.floating_profit(t.market),
            margin=round(margin, 2),
            margin_free=round(equity - margin, 2),
            margin_level=round(equity / margin * 100, 2) if margin else 0.0,
            comment="Done" if retcode == OK else comment_for(retcode),
            request=req,
        )


def order_send(request: object) -> OrderSendResult | None:
    """Send a request to the simulated trade server.

    Fault switches apply in this order: a queued retcode answers instead of executing;
    otherwise the request is checked and executed; then a "lose result" fault makes the
    call return None with (-10005, 'IPC timeout') and a "drop" fault cuts the client's
    connection before the reply leaves, whatever the outcome was.
    """
    t = terminal()
    with t.lock:
        book = t.current_book()
        if book is None:
            return None
        req = _parse(t, request)
        if req is None:
            return None
        t.last_error = ERR_SUCCESS
        forced = t.faults.take_retcode()
        if forced is not None:
            return _rejected(t, forced, req)
        retcode = validate(t, book, req)
        if retcode == OK:
            result = execute(t, book, req)
            t.persist()  # on disk before the reply leaves, as a trade server commits first
        else:
            result = _rejected(t, retcode, req)
        lose = t.faults.take_lose_result()
        drop = t.faults.take_drop()
        if lose:
            t.last_error = ERR_IPC_TIMEOUT
    if drop:
        drop_current_connection()
    return None if lose else result
