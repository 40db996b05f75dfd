"""ccxt's exceptions, mapped once, as data: what each means for a job and for its account.

    ccxt.BaseError
    ├── ExchangeError
    │   ├── AuthenticationError ── PermissionDenied ── AccountNotEnabled, AccountSuspended
    │   │                                       → CREDENTIALS: the account is disabled (failed)
    │   ├── InsufficientFunds                   → REFUSED no_money (HTTP 422)
    │   ├── InvalidOrder, BadRequest/BadSymbol, NotSupported, OperationRejected
    │   │                                       → REFUSED with the detail (HTTP 422)
    │   │   ├── OrderNotFound                   → NOT_FOUND (a look-up: provably not there)
    │   │   └── DuplicateOrderId                → DOUBT (our client order id is there: look up)
    │   └── anything else                       → REFUSED rejected
    └── OperationFailed
        ├── NetworkError ── RequestTimeout, DDoSProtection, RateLimitExceeded,
        │                   ExchangeNotAvailable/OnMaintenance
        │                                       → TRANSIENT: retried with backoff; a send
        │                                         whose answer this was is looked up first
        │   └── InvalidNonce                    → CLOCK: resync the time difference, once
        └── BadResponse, CancelPending          → TRANSIENT

A setting made ahead of an order (a perpetual's leverage, `Calls.setting`) reads the same
table, except that DOUBT and TRANSIENT are retried as they are: no order was sent, so
there is nothing to look up.

The first matching row of `RULES` wins (most specific first). An exchange adds its own
codes that ccxt files under the wrong branch (`Profile.credential_markers`: Binance's
-2015 after a successful call surfaces as DDoSProtection), or leaves in a bare
ExchangeError (`Profile.refusal_markers`: Coinbase's preview failure reasons).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import ccxt.async_support as ccxt

from switchyard.domain import ErrorCode


class Kind(enum.Enum):
    CREDENTIALS = "credentials"  #: the key is refused: disable the account
    REFUSED = "refused"  #: the exchange refused the request; nothing happened
    NOT_FOUND = "not_found"  #: the order / position is not there
    DOUBT = "doubt"  #: our request may have had an effect: look it up
    CLOCK = "clock"  #: our timestamp was refused: resync the clock and try again
    TRANSIENT = "transient"  #: the exchange could not be reached or refused for load


@dataclass(frozen=True, slots=True)
class Meaning:
    kind: Kind
    code: ErrorCode


_CREDENTIALS = Meaning(Kind.CREDENTIALS, ErrorCode.CREDENTIALS_REJECTED)
_TRANSIENT = Meaning(Kind.TRANSIENT, ErrorCode.VENUE_UNAVAILABLE)

RULES: Final[tuple[tuple[type[Exception], Meaning], ...]] = (
    (ccxt.OrderNotFound, Meaning(Kind.NOT_FOUND, ErrorCode.NOT_FOUND)),
    (ccxt.DuplicateOrderId, Meaning(Kind.DOUBT, ErrorCode.VENUE_UNAVAILABLE)),
    (ccxt.AuthenticationError, _CREDENTIALS),  # PermissionDenied, AccountSuspended, …
    (ccxt.InsufficientFunds, Meaning(Kind.REFUSED, ErrorCode.NO_MONEY)),
    (ccxt.MarketClosed, Meaning(Kind.REFUSED, ErrorCode.MARKET_CLOSED)),
    (ccxt.InvalidOrder, Meaning(Kind.REFUSED, ErrorCode.INVALID_REQUEST)),
    (ccxt.BadRequest, Meaning(Kind.REFUSED, ErrorCode.INVALID_REQUEST)),  # BadSymbol
    (ccxt.NotSupported, Meaning(Kind.REFUSED, ErrorCode.INVALID_REQUEST)),
    (ccxt.OperationRejected, Meaning(Kind.REFUSED, ErrorCode.REJECTED)),
    (ccxt.InvalidNonce, Meaning(Kind.CLOCK, ErrorCode.VENUE_UNAVAILABLE)),
    (ccxt.NetworkError, _TRANSIENT),  # RequestTimeout, DDoSProtection, RateLimitExceeded…
    (ccxt.OperationFailed, _TRANSIENT),  # BadResponse, CancelPending
    (ccxt.ExchangeError, Meaning(Kind.REFUSED, ErrorCode.REJECTED)),
)

#: A message is cut to this length before it reaches a job or a log line.
_MESSAGE_MAX: Final = 300
#: Query strings carry signatures and timestamps: never repeated.
_QUERY = re.compile(r"\?\S*")


def meaning(
    exc: Exception,
    credential_markers: Iterable[str] = (),
    refusal_markers: Mapping[str, ErrorCode] | None = None,
) -> Meaning:
    """What `exc` (raised by ccxt) means; markers found in its text mean credentials, or a
    refusal with that code (where ccxt raises a bare ExchangeError for it)."""
    text = str(exc)
    if any(marker in text for marker in credential_markers):
        return _CREDENTIALS
    if isinstance(exc, ccxt.ExchangeError) and refusal_markers:
        for marker, code in refusal_markers.items():
            if marker in text:
                return Meaning(Kind.REFUSED, code)
    for kind, rule in RULES:
        if isinstance(exc, kind):
            return rule
    return _TRANSIENT  # an aiohttp or asyncio error ccxt did not wrap: the network


def describe(exc: BaseException, noun: str, secrets: Iterable[str] = ()) -> str:
    """`exc` in words fit for a job's error and a log line: the exchange's own code and
    message, no query string, no credential (replaced should an exchange ever echo one)."""
    text = str(exc) or type(exc).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _QUERY.sub("", text)
    prefix = f"{type(exc).__name__}: " if isinstance(exc, ccxt.BaseError) else ""
    text = f"{noun} answered {prefix}{text}"
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 1] + "…"
