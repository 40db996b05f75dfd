"""The venue seam: what the trading flow asks of a venue, and what a venue answers.

The flow (`worker.trading`) decides; an adapter (`worker.venues.<venue>`) talks to its
venue and translates. Everything that crosses this seam is a frozen value object in the
trading vocabulary (nautilus_trader's: order status, fill and position reports) with our
identifier types; no venue's own shapes, codes or clients ever reach the flow.

    VenueAdapter.parse_id(text)            is this a position/order id of the venue?
    VenueAdapter.on_account(account)  ──▶  VenueSession   (on `account`, checked, and
        │                                                  nothing else in between)
        ├── account                        AccountReport of the account the session is on
        ├── prepare_order / _close / _modify_position / _modify_order / _cancel
        │                                  ──▶ Prepared (what the journal records) | Refusal
        ├── apply_leverage(prepared)       ──▶ None | Rejected (nothing ordered), before
        │                                      a submit whose Prepared carries a leverage
        ├── submit(prepared)               ──▶ Done(Execution) | Rejected | Ambiguous, once
        ├── find(client order id)          ──▶ Execution | None, after doubt
        ├── symbol_spec(symbol)            ──▶ SymbolSpec | Refusal (what a size must obey)
        ├── positions / position, open_orders / order, fills(since)   the reports
        └── refresh()                      ──▶ AccountState: the account and every open
                                               position as the venue has them *now*;
                                               the flow calls it right after each trade

A venue that lacks an operation (modify on a spot exchange) answers a `Refusal` saying
so. Errors raised across the seam are `switchyard.errors`' worker branch (VenueUnavailable:
nothing was sent, CredentialsRejected, WrongAccount, LeaseLost, UndecryptableSecret); a
submit answers doubt as `Ambiguous`, and credentials refused at the send as `Rejected`
with `ErrorCode.CREDENTIALS_REJECTED` (the flow then fails or disables the account).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol
from uuid import UUID

from switchyard.domain import (
    AccountId,
    ClientOrderId,
    ErrorCode,
    OrderPayload,
    Venue,
    VenueOrderId,
    VenuePositionId,
)

# What a venue reports (worker.venue_reports), re-exported: the seam's vocabulary too.
from worker.venue_reports import (
    AccountReport,
    AccountState,
    Entry,
    FillReport,
    OrderStatus,
    OrderStatusReport,
    PositionReport,
    SymbolSpec,
)

__all__ = [
    "Account",
    "AccountReport",
    "AccountState",
    "Action",
    "Ambiguous",
    "Done",
    "DoneStatus",
    "Entry",
    "Execution",
    "FillReport",
    "OrderStatus",
    "OrderStatusReport",
    "PositionReport",
    "Prepared",
    "Price",
    "Refusal",
    "Rejected",
    "Submitted",
    "SymbolSpec",
    "VenueAdapter",
    "VenueSession",
]

#: What a trade request does, as the journal (`orders.action`) records it.
Action = Literal["open", "close", "modify", "cancel"]
#: The journal's status once the venue carried a request out.
DoneStatus = Literal["filled", "placed", "closed", "modified", "cancelled"]
#: A price that may be absent (no stop loss, a market order).
Price = Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """The job's account as stored; the ciphertext is opened by the adapter, for a login."""

    id: AccountId
    user_id: UUID
    venue: Venue
    #: MT5: the login number; an exchange: the API key's fingerprint.
    login: str
    #: MT5: the trade server; exchanges have none.
    server: str | None
    environment: str
    status: str
    is_active: bool
    risk_limits: Mapping[str, Any] = field(default_factory=dict)
    ciphertext: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """Refused before anything is sent (unknown symbol, no quote, no such operation)."""

    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """A request ready to submit: what the journal records, and the venue's own request."""

    client_order_id: ClientOrderId
    action: Action
    #: What the journal says once the venue carried it out.
    done: DoneStatus
    symbol: str
    side: str | None = None
    order_type: str | None = None
    volume: Decimal | None = None
    price: Decimal | None = None
    sl: Decimal | None = None
    tp: Decimal | None = None
    #: The position or order the request acts on (close, modify, cancel).
    target: str | None = None
    #: The leverage to set at the venue before the request is sent (`apply_leverage`);
    #: None: the venue's leverage is left as it is.
    leverage: int | None = None
    request: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """What the venue did with one of our requests (answered, or found after doubt)."""

    status: DoneStatus
    venue_order_id: VenueOrderId | None = None
    venue_fill_id: str | None = None
    venue_position_id: VenuePositionId | None = None
    price: Decimal | None = None
    volume: Decimal | None = None
    #: The venue's own code for the answer (an MT5 retcode), when it has one.
    venue_code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Done:
    """Carried out."""

    execution: Execution


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """Refused without effect. `retryable`: worth sending again later (a requote, busy)."""

    code: ErrorCode
    message: str
    venue_code: int | None = None
    retryable: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Ambiguous:
    """Maybe it happened (a timeout, a lost answer): look it up before sending anything."""

    code: ErrorCode
    message: str
    venue_code: int | None = None
    #: What the journal records, when it says more precisely than `message` what happened.
    reason: str | None = None


Submitted = Done | Rejected | Ambiguous


class VenueSession(Protocol):
    """A venue, verified to be on one account, used by one lane at a time."""

    @property
    def account(self) -> AccountReport:
        """The account as the venue reports it (read on entry, or on first use)."""

    @property
    def fills_by_market(self) -> bool:
        """Whether `fills` reads one market at a time (Binance), and so needs `traded`:
        the flow reads the journal's symbols only then (not on every MT5 refresh)."""

    def prepare_order(self, payload: OrderPayload, coid: ClientOrderId) -> Prepared | Refusal:
        """An opening order (market, limit or stop), priced for the journal."""

    def prepare_close(
        self, position: PositionReport, volume: Decimal, deviation: int, coid: ClientOrderId
    ) -> Prepared | Refusal:
        """Close `volume` of `position` (the whole of it, or part)."""

    def prepare_modify_position(
        self, position: PositionReport, sl: Price, tp: Price, coid: ClientOrderId
    ) -> Prepared | Refusal: ...

    def prepare_modify_order(
        self, order: OrderStatusReport, price: Price, sl: Price, tp: Price, coid: ClientOrderId
    ) -> Prepared | Refusal: ...

    def prepare_cancel(
        self, order: OrderStatusReport, coid: ClientOrderId
    ) -> Prepared | Refusal: ...

    def apply_leverage(self, prepared: Prepared) -> Rejected | None:
        """Set `prepared.leverage` at the venue for its symbol, before it is submitted.

        Called only for a request that carries a leverage, after its journal row and
        before `submit`. None: set (or already that); a Rejected: it could not be, and
        nothing was ordered (`retryable` when the venue could not be reached)."""

    def submit(self, prepared: Prepared) -> Submitted:
        """Send it once; raises VenueUnavailable only when provably nothing was sent."""

    def find(
        self,
        coid: ClientOrderId,
        *,
        since: datetime,
        action: Action,
        symbol: str | None = None,
        position: VenuePositionId | None = None,
    ) -> Execution | None:
        """What became of our `coid` (sent after `since`); None: provably never happened.

        `symbol` (an opening order's) or `position` (the one a close acts on) name where
        to look, for venues that keep orders per market (Binance, OKX)."""

    def symbol_spec(self, symbol: str) -> SymbolSpec | Refusal:
        """`symbol`'s contract specification and price now; a Refusal when the account's
        venue does not know it or has no quote for it."""

    def positions(self) -> tuple[PositionReport, ...]: ...

    def position(self, venue_position_id: VenuePositionId) -> PositionReport | None: ...

    def open_orders(self) -> tuple[OrderStatusReport, ...]: ...

    def order(self, venue_order_id: VenueOrderId) -> OrderStatusReport | None:
        """The order, open or from the history; None when the venue does not know it."""

    def fills(
        self, since: datetime, *, traded: frozenset[str] = frozenset()
    ) -> tuple[FillReport, ...]:
        """Fills since `since`, widened by the venue's clock uncertainty (stored once by id).

        `traded`: the symbols of the account's orders in our journal that may have filled
        since (`records.traded_symbols`). A venue that reads fills market by market
        (Binance) reads these whatever the account holds now: an asset sold out leaves no
        balance that would point at its market."""

    def refresh(self) -> AccountState:
        """The account (balance, equity, margin) and every open position, read again from
        the venue now — never the report read on entry, never derived from our requests.

        The flow calls it in the same session right after every trade the venue carried
        out (open, close, modify, cancel), so `GET /v1/positions` shows the trade's effect
        before the next scheduled sync. Raises VenueUnavailable when the venue cannot say,
        WrongAccount when the session is no longer on its account (nothing of another
        account is ever returned); the trade's outcome stands and the next sync catches up."""


class VenueAdapter(Protocol):
    """One venue endpoint a lane drives: an MT5 terminal, an exchange's sessions."""

    @property
    def noun(self) -> str:
        """How a sentence names the venue: "the terminal", "Binance"."""

    @property
    def call_timeout_s(self) -> float:
        """The longest one venue call may take (a lease must outlast it before a send)."""

    def parse_id(self, text: str, what: str) -> str | Refusal:
        """`text` as this venue's id of a position or order (`what`), before any login."""

    def on_account(
        self, account: Account, *, verify: bool = False
    ) -> AbstractContextManager[VenueSession]:
        """A session on `account`: logged in when needed (`verify`: always, with the stored
        credentials, once), checked to be on it, with nothing else in between until the
        block ends. Raises before the block runs when it cannot be (CredentialsRejected,
        WrongAccount, VenueUnavailable, LeaseLost, UndecryptableSecret)."""
