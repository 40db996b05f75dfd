"""Trading vocabulary shared by the functions and the worker: the job row's contract.

The functions validate a request into one of the payload models below and insert a
job; the worker reads the job, parses the same model and writes a `JobResult` or a
`JobError` back. Status and kind values are spelled exactly as in SQL.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated, Any, Literal, NewType
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

AccountId = NewType("AccountId", UUID)
JobId = NewType("JobId", UUID)
#: Ours, derived from the job, sent to the venue (MT5: in the comment) so that after an
#: ambiguous outcome the worker can look the order up before resending.
ClientOrderId = NewType("ClientOrderId", str)
#: The venue's identifiers (MT5 tickets, exchange order ids), always as text.
VenueOrderId = NewType("VenueOrderId", str)
VenuePositionId = NewType("VenuePositionId", str)


class JobKind(enum.StrEnum):
    VERIFY = "verify"  #: log in / call the venue with the stored credentials
    SWITCH = "switch"  #: log the terminal in to the account ahead of trades
    ORDER = "order"  #: open a market or pending order
    CLOSE = "close"  #: close a position, fully or partly
    MODIFY = "modify"  #: change SL/TP of a position or the price of a pending order
    CANCEL = "cancel"  #: remove a pending order
    SYNC = "sync"  #: refresh balance, positions and history
    SIGNAL = "signal"  #: a channel's alert on one subscribed account, sized when it runs


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  #: waiting for a worker
    RUNNING = "running"  #: claimed by a worker that holds its lease
    SUCCEEDED = "succeeded"  #: done; `result` says what happened
    FAILED = "failed"  #: ended without effect or with a known partial effect; `error` says why
    CANCELLED = "cancelled"  #: withdrawn before it ran


TERMINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
TRADE_JOB_KINDS = frozenset(
    {JobKind.ORDER, JobKind.CLOSE, JobKind.MODIFY, JobKind.CANCEL, JobKind.SIGNAL}
)


class AccountStatus(enum.StrEnum):
    PENDING = "pending"  #: credentials stored, not yet verified
    VERIFIED = "verified"  #: the venue accepted the credentials
    FAILED = "failed"  #: the venue rejected the credentials at connect time
    DISABLED = "disabled"  #: credentials stopped working later (revoked, changed)


class Venue(enum.StrEnum):
    """Where an account lives; spelled as `accounts.venue` (and its check constraint)."""

    MT5 = "mt5"  #: a MetaTrader 5 login on a broker's trade server
    BINANCE = "binance"  #: a Binance API key
    BYBIT = "bybit"  #: a Bybit API key
    OKX = "okx"  #: an OKX API key with its passphrase
    COINBASE = "coinbase"  #: a Coinbase Advanced Trade CDP key: its name and EC private key


#: The venues of exchange accounts (`kind = 'exchange'`): every venue but MT5.
EXCHANGE_VENUES: frozenset[Venue] = frozenset(set(Venue) - {Venue.MT5})


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


def client_order_id(job_id: UUID) -> ClientOrderId:
    """`sy` + 24 hex digits of the job id: unique per job, short enough for an MT5 comment."""
    return ClientOrderId("sy" + job_id.hex[:24])


_Price = Annotated[Decimal, Field(gt=0, max_digits=20, decimal_places=10, allow_inf_nan=False)]
_Volume = Annotated[
    Decimal, Field(gt=0, le=1_000_000, max_digits=20, decimal_places=8, allow_inf_nan=False)
]
_Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._/:#-]+$")]
_Ticket = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
#: Slippage in points: an integer, never a boolean or a float (strict, from JSON or a row).
_Deviation = Annotated[int, Strict(), Field(ge=0, le=10_000)]
#: Leverage of a perpetual (an order's, a subscription's), 1-125: an integer, strictly.
Leverage = Annotated[int, Strict(), Field(ge=1, le=125)]


class RiskLimits(BaseModel):
    """An account's own limits (`accounts.risk_limits`), checked by the worker before a send.

    Only limits the worker enforces exist here: a limit stored but not enforced would be
    worse than none. The functions validate with this model on the way in; the worker
    validates the stored value with it again (it may have been written through the
    Supabase API) and refuses to trade on limits it cannot read.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Largest volume of one order (lots / base units).
    max_volume: _Volume | None = None
    #: Only these symbols may be traded; all when absent.
    allowed_symbols: Annotated[tuple[_Symbol, ...], Field(max_length=500)] | None = None


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmptyPayload(Payload):
    """verify, switch and sync carry nothing but the job's account."""


class OrderPayload(Payload):
    symbol: _Symbol
    side: Side
    type: OrderType = OrderType.MARKET
    volume: _Volume
    price: _Price | None = None
    sl: _Price | None = None
    tp: _Price | None = None
    deviation: _Deviation = 20
    #: The leverage to set at the exchange before a perpetual order is sent (1-125, an
    #: integer). Refused on spot and on MT5, where the leverage is the account's.
    leverage: (
        Annotated[
            Leverage,
            Field(
                description="Leverage (an integer, 1-125) set at the exchange for this "
                "perpetual (e.g. BTC/USDT:USDT on Bybit or OKX) before the order is sent. "
                "Refused on spot markets and on MT5 accounts, whose leverage is the "
                "account's, set at the broker.",
            ),
        ]
        | None
    ) = None
    #: Your note, kept with the trade. The venue's own comment field carries our client
    #: order id (MT5 keeps only 31 characters), so this note is not sent to the venue.
    comment: (
        Annotated[
            str,
            Field(
                max_length=64,
                description="Your note, kept with the trade (the venue's comment field "
                "carries switchyard's client order id).",
            ),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _price_matches_type(self) -> OrderPayload:
        if self.type is OrderType.MARKET and self.price is not None:
            raise ValueError(
                "price is only for limit and stop orders; a market order fills at market"
            )
        if self.type is not OrderType.MARKET and self.price is None:
            raise ValueError(f"a {self.type.value} order needs a price")
        return self


class ClosePayload(Payload):
    position: _Ticket
    #: Partial close; the whole position when absent.
    volume: _Volume | None = None
    deviation: _Deviation = 20


class ModifyPayload(Payload):
    """New SL/TP of an open position, or new price/SL/TP of a pending order."""

    position: _Ticket | None = None
    order: _Ticket | None = None
    price: _Price | None = None
    sl: _Price | None = None
    tp: _Price | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ModifyPayload:
        if (self.position is None) == (self.order is None):
            raise ValueError("modify names exactly one of position or order")
        if self.position is not None and self.price is not None:
            raise ValueError("a position's price cannot be modified, only its sl and tp")
        if self.sl is None and self.tp is None and self.price is None:
            raise ValueError("modify needs at least one of sl, tp or price")
        return self


class CancelPayload(Payload):
    order: _Ticket


class SignalAction(enum.StrEnum):
    """What an alert asks for (`signals.action`)."""

    BUY = "buy"  #: open a long position at market
    SELL = "sell"  #: open a short position at market
    CLOSE = "close"  #: close every position of the symbol
    CLOSE_LONG = "close_long"  #: close the symbol's long (buy) positions
    CLOSE_SHORT = "close_short"  #: close the symbol's short (sell) positions
    CANCEL = "cancel"  #: remove the symbol's pending orders


class SizingMode(enum.StrEnum):
    FIXED = "fixed"  #: a fixed volume (lots, contracts, base units)
    BALANCE_PCT = "balance_pct"  #: a position worth `percent` of the balance (× leverage)
    RISK_PCT = "risk_pct"  #: lose `percent` of the balance if the stop loss is hit


_Percent = Annotated[Decimal, Field(gt=0, le=100, max_digits=12, decimal_places=6)]


class FixedSizing(Payload):
    mode: Literal[SizingMode.FIXED]
    volume: _Volume


class BalancePctSizing(Payload):
    mode: Literal[SizingMode.BALANCE_PCT]
    percent: _Percent


class RiskPctSizing(Payload):
    mode: Literal[SizingMode.RISK_PCT]
    percent: _Percent


#: A subscription's sizing (`signal_subscriptions.sizing`), chosen by `mode`.
Sizing = Annotated[FixedSizing | BalancePctSizing | RiskPctSizing, Field(discriminator="mode")]
#: A stop or a target as a percentage of the entry price.
_StopPct = Annotated[Decimal, Field(gt=0, lt=100, max_digits=12, decimal_places=6)]
_TargetPct = Annotated[Decimal, Field(gt=0, le=1000, max_digits=12, decimal_places=6)]


class SignalPayload(Payload):
    """A signal job: the alert (its symbol already mapped to the account's venue) and the
    subscription's settings as they were when it arrived. The worker sizes it when it runs,
    from the account's balance then and the symbol's contract specification."""

    action: SignalAction
    symbol: _Symbol
    #: The alert's own figures: `sl`/`tp` are prices; `price` and `size` are recorded.
    price: _Price | None = None
    sl: _Price | None = None
    tp: _Price | None = None
    size: _Volume | None = None
    confidence: Decimal | None = None
    sizing: Sizing
    leverage: Leverage | None = None
    sl_pct: _StopPct | None = None
    tp_pct: _TargetPct | None = None
    max_open_positions: Annotated[int, Strict(), Field(ge=1)] | None = None
    deviation: _Deviation = 20


PAYLOAD_MODELS: dict[JobKind, type[Payload]] = {
    JobKind.VERIFY: EmptyPayload,
    JobKind.SWITCH: EmptyPayload,
    JobKind.SYNC: EmptyPayload,
    JobKind.ORDER: OrderPayload,
    JobKind.CLOSE: ClosePayload,
    JobKind.MODIFY: ModifyPayload,
    JobKind.CANCEL: CancelPayload,
    JobKind.SIGNAL: SignalPayload,
}


def parse_payload(kind: JobKind, payload: dict[str, Any]) -> Payload:
    """The typed payload of a job row (the worker re-validates what it reads)."""
    return PAYLOAD_MODELS[kind].model_validate(payload)


class ErrorCode(enum.StrEnum):
    """Why a job failed, in words a client can branch on. `JobError.message` explains."""

    CREDENTIALS_REJECTED = "credentials_rejected"  #: the venue refused the login / key
    ACCOUNT_UNAVAILABLE = "account_unavailable"  #: deleted, disabled or not verified
    INVALID_REQUEST = "invalid_request"  #: the payload cannot be sent as it is
    INVALID_VOLUME = "invalid_volume"
    INVALID_PRICE = "invalid_price"
    INVALID_STOPS = "invalid_stops"
    NO_MONEY = "no_money"
    MARKET_CLOSED = "market_closed"
    TRADE_DISABLED = "trade_disabled"
    NOT_FOUND = "not_found"  #: the position or order does not exist (any more)
    RISK_LIMIT = "risk_limit"  #: refused by the account's own risk limits
    REJECTED = "rejected"  #: refused by the venue for another reason
    VENUE_UNAVAILABLE = "venue_unavailable"  #: retries exhausted talking to the venue
    EXPIRED = "expired"  #: a trade not started within its time-to-live (job cancelled)
    INTERNAL = "internal"  #: a bug on our side; the message says no more than needed


#: Codes that are the user's to fix (HTTP 422 at the functions); the rest are ours/the venue's.
USER_ERROR_CODES = frozenset(set(ErrorCode) - {ErrorCode.VENUE_UNAVAILABLE, ErrorCode.INTERNAL})


class JobError(BaseModel):
    """What `jobs.error` holds: never a secret, never a stack trace."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: ErrorCode
    message: str
    retcode: int | None = None


class Fill(BaseModel):
    """The result of an order/close job (`jobs.result`)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    client_order_id: ClientOrderId
    order: VenueOrderId | None = None
    deal: str | None = None
    position: VenuePositionId | None = None
    price: Decimal | None = None
    volume: Decimal | None = None
    retcode: int | None = None
    status: Literal["filled", "placed", "modified", "cancelled", "closed"]


class AccountSnapshot(BaseModel):
    """The result of a verify/switch/sync job: what the venue says about the account."""

    model_config = ConfigDict(extra="allow", frozen=True)
    balance: Decimal
    equity: Decimal | None = None
    margin: Decimal | None = None
    free_margin: Decimal | None = None
    currency: str
    leverage: int | None = None
    login: str | None = None
    server: str | None = None
    permissions: dict[str, Any] = Field(default_factory=dict)
