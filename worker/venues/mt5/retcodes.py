"""Trade server return codes as data: what each means and what the worker does about it.

Every `order_send` outcome is looked up here, nowhere else (`verdict`):

* DONE_RETCODES       the request was carried out
* RETRYABLE_RETCODES  refused without effect, worth sending again later (requote, busy)
* AMBIGUOUS_RETCODES  the outcome is unknown (timeout, lost connection): look the client
                      order id up at the terminal before anything is sent again
* any other code      rejected: the job fails with the code's ErrorCode and meaning
"""

from __future__ import annotations

from typing import Final

from switchyard.domain import ErrorCode
from worker.venue import Ambiguous, Rejected

REQUOTE: Final = 10004
REJECT: Final = 10006
CANCEL: Final = 10007
PLACED: Final = 10008
DONE: Final = 10009
DONE_PARTIAL: Final = 10010
ERROR: Final = 10011
TIMEOUT: Final = 10012
INVALID: Final = 10013
INVALID_VOLUME: Final = 10014
INVALID_PRICE: Final = 10015
INVALID_STOPS: Final = 10016
TRADE_DISABLED: Final = 10017
MARKET_CLOSED: Final = 10018
NO_MONEY: Final = 10019
PRICE_CHANGED: Final = 10020
PRICE_OFF: Final = 10021
INVALID_EXPIRATION: Final = 10022
ORDER_CHANGED: Final = 10023
TOO_MANY_REQUESTS: Final = 10024
NO_CHANGES: Final = 10025
SERVER_DISABLES_AT: Final = 10026
CLIENT_DISABLES_AT: Final = 10027
LOCKED: Final = 10028
FROZEN: Final = 10029
INVALID_FILL: Final = 10030
CONNECTION: Final = 10031
ONLY_REAL: Final = 10032
LIMIT_ORDERS: Final = 10033
LIMIT_VOLUME: Final = 10034
INVALID_ORDER: Final = 10035
POSITION_CLOSED: Final = 10036
INVALID_CLOSE_VOLUME: Final = 10038
CLOSE_ORDER_EXIST: Final = 10039
LIMIT_POSITIONS: Final = 10040
REJECT_CANCEL: Final = 10041
LONG_ONLY: Final = 10042
SHORT_ONLY: Final = 10043
CLOSE_ONLY: Final = 10044
FIFO_CLOSE: Final = 10045
HEDGE_PROHIBITED: Final = 10046

DONE_RETCODES: Final[frozenset[int]] = frozenset({PLACED, DONE, DONE_PARTIAL})
RETRYABLE_RETCODES: Final[frozenset[int]] = frozenset(
    {REQUOTE, PRICE_CHANGED, PRICE_OFF, TOO_MANY_REQUESTS, LOCKED, ORDER_CHANGED}
)
AMBIGUOUS_RETCODES: Final[frozenset[int]] = frozenset({TIMEOUT, CONNECTION, ERROR})

#: What a person reads, and how a client branches, for each code.
MEANINGS: Final[dict[int, tuple[ErrorCode, str]]] = {
    REQUOTE: (ErrorCode.REJECTED, "the price changed (requote); try again"),
    REJECT: (ErrorCode.REJECTED, "the trade server rejected the request"),
    CANCEL: (ErrorCode.REJECTED, "the request was cancelled by the trader"),
    ERROR: (ErrorCode.VENUE_UNAVAILABLE, "the trade server could not process the request"),
    TIMEOUT: (ErrorCode.VENUE_UNAVAILABLE, "the request timed out at the trade server"),
    INVALID: (ErrorCode.INVALID_REQUEST, "the trade server considers the request invalid"),
    INVALID_VOLUME: (ErrorCode.INVALID_VOLUME, "the volume is not allowed for this symbol"),
    INVALID_PRICE: (ErrorCode.INVALID_PRICE, "the price is not valid for this order"),
    INVALID_STOPS: (ErrorCode.INVALID_STOPS, "the stop loss or take profit is not valid"),
    TRADE_DISABLED: (ErrorCode.TRADE_DISABLED, "trading is disabled for this account or symbol"),
    MARKET_CLOSED: (ErrorCode.MARKET_CLOSED, "the market is closed for this symbol"),
    NO_MONEY: (ErrorCode.NO_MONEY, "not enough free margin for this order"),
    PRICE_CHANGED: (ErrorCode.REJECTED, "the price changed; try again"),
    PRICE_OFF: (ErrorCode.REJECTED, "there is no quote for this symbol right now"),
    INVALID_EXPIRATION: (ErrorCode.INVALID_REQUEST, "the order expiration is not valid"),
    ORDER_CHANGED: (ErrorCode.REJECTED, "the order changed while being processed"),
    TOO_MANY_REQUESTS: (ErrorCode.VENUE_UNAVAILABLE, "too many requests to the trade server"),
    NO_CHANGES: (ErrorCode.INVALID_REQUEST, "the request changes nothing"),
    SERVER_DISABLES_AT: (ErrorCode.TRADE_DISABLED, "automated trading is disabled by the server"),
    CLIENT_DISABLES_AT: (
        ErrorCode.TRADE_DISABLED,
        "automated trading is disabled in the terminal (the Algo Trading button)",
    ),
    LOCKED: (ErrorCode.VENUE_UNAVAILABLE, "the request is locked for processing"),
    FROZEN: (ErrorCode.REJECTED, "the order or position is frozen near the market price"),
    INVALID_FILL: (ErrorCode.INVALID_REQUEST, "the filling mode is not supported by the symbol"),
    CONNECTION: (ErrorCode.VENUE_UNAVAILABLE, "the terminal has no connection to the server"),
    ONLY_REAL: (ErrorCode.TRADE_DISABLED, "this operation is only allowed on live accounts"),
    LIMIT_ORDERS: (ErrorCode.REJECTED, "the limit on pending orders is reached"),
    LIMIT_VOLUME: (ErrorCode.INVALID_VOLUME, "the volume limit for this symbol is reached"),
    INVALID_ORDER: (ErrorCode.INVALID_REQUEST, "the order type is not valid or not allowed"),
    POSITION_CLOSED: (ErrorCode.NOT_FOUND, "the position does not exist (any more)"),
    INVALID_CLOSE_VOLUME: (ErrorCode.INVALID_VOLUME, "the close volume exceeds the position"),
    CLOSE_ORDER_EXIST: (ErrorCode.REJECTED, "a close order for this position already exists"),
    LIMIT_POSITIONS: (ErrorCode.REJECTED, "the limit on open positions is reached"),
    REJECT_CANCEL: (ErrorCode.REJECTED, "the pending order cannot be cancelled"),
    LONG_ONLY: (ErrorCode.REJECTED, "only long positions are allowed for this symbol"),
    SHORT_ONLY: (ErrorCode.REJECTED, "only short positions are allowed for this symbol"),
    CLOSE_ONLY: (ErrorCode.REJECTED, "only closing positions is allowed for this symbol"),
    FIFO_CLOSE: (ErrorCode.REJECTED, "positions must be closed first-in first-out"),
    HEDGE_PROHIBITED: (ErrorCode.REJECTED, "opposite positions are not allowed (no hedging)"),
}


def meaning(retcode: int, server_comment: str = "") -> tuple[ErrorCode, str]:
    """The ErrorCode and a sentence for `retcode` (the server's comment when unknown)."""
    if retcode in MEANINGS:
        code, text = MEANINGS[retcode]
        return code, f"{text} (MT5 retcode {retcode})"
    detail = f": {server_comment}" if server_comment else ""
    return ErrorCode.REJECTED, f"the trade server answered retcode {retcode}{detail}"


def verdict(retcode: int, server_comment: str = "") -> Rejected | Ambiguous:
    """What an `order_send` answer that is not in DONE_RETCODES means for the flow."""
    code, message = meaning(retcode, server_comment)
    if retcode in AMBIGUOUS_RETCODES:
        return Ambiguous(code=code, message=message, venue_code=retcode)
    return Rejected(
        code=code, message=message, venue_code=retcode, retryable=retcode in RETRYABLE_RETCODES
    )
