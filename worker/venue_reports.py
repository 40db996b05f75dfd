"""What a venue reports across the seam (`worker.venue`): the account, its orders, fills
and positions, a symbol's contract specification, and the account's state after a trade.

Frozen value objects in the trading vocabulary (nautilus_trader's order status, fill and
position reports) with our identifier types; `worker.venue` re-exports them, so the flow
and the adapters import them from there.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from switchyard.domain import ClientOrderId, OrderType, Side, VenueOrderId, VenuePositionId

#: How a deal entered or left a position (`deals.entry`).
Entry = Literal["in", "out", "inout", "out_by"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountReport:
    """The account as the venue reports it now."""

    balance: Decimal
    equity: Decimal | None
    margin: Decimal | None
    free_margin: Decimal | None
    currency: str
    leverage: int | None
    #: Who the venue says we are: MT5 login and server, or an exchange key's identity.
    login: str | None
    server: str | None
    #: What the credentials may do, in the venue's own terms (trade, read, withdraw…).
    permissions: Mapping[str, Any] = field(default_factory=dict)
    #: Every non-zero holding by asset (exchanges; MT5 has its balance only).
    assets: Mapping[str, Decimal] = field(default_factory=dict)


class OrderStatus(enum.StrEnum):
    OPEN = "open"  #: accepted and working (a pending or resting order)
    PARTIALLY_FILLED = "partially_filled"  #: working, part of it executed
    FILLED = "filled"  #: executed in full
    CANCELLED = "cancelled"  #: removed before it executed (in full)
    EXPIRED = "expired"  #: ended by its own time limit
    REJECTED = "rejected"  #: refused by the venue


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderStatusReport:
    """One order at the venue: open, or from its history."""

    venue_order_id: VenueOrderId
    client_order_id: ClientOrderId | None
    symbol: str
    side: Side | None
    order_type: OrderType | None
    status: OrderStatus
    #: The amount ordered (lots / base currency) and how much of it executed.
    quantity: Decimal
    filled: Decimal
    #: The order's own price (limit / stop), None for market orders.
    price: Decimal | None
    average_price: Decimal | None = None
    sl: Decimal | None = None
    tp: Decimal | None = None
    venue_position_id: VenuePositionId | None = None

    @property
    def leaves(self) -> Decimal:
        """What is still to execute."""
        return self.quantity - self.filled


@dataclass(frozen=True, slots=True, kw_only=True)
class FillReport:
    """One execution (an MT5 deal, an exchange trade), stored once per venue fill id."""

    venue_fill_id: str
    venue_order_id: VenueOrderId | None
    venue_position_id: VenuePositionId | None
    symbol: str
    #: None for a balance operation (a deposit), which is no trade.
    side: Side | None
    entry: Entry | None
    volume: Decimal
    price: Decimal
    #: The venue's realised profit of this fill (0 for an entry), in the account currency.
    profit: Decimal
    #: What the venue charged for it (a charge is negative, as MT5 reports it); `fee` is
    #: any other charge the venue itemises.
    commission: Decimal
    fee: Decimal
    comment: str | None
    executed_at: datetime
    #: The swap (rollover interest) the venue booked with this fill, as it reports it —
    #: MT5 books a position's swap on its closing deal. None: the venue books no swap per
    #: fill (exchanges charge perpetual funding separately); never a guess.
    swap: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionReport:
    venue_position_id: VenuePositionId
    symbol: str
    side: Side
    volume: Decimal
    open_price: Decimal
    sl: Decimal | None
    tp: Decimal | None
    profit: Decimal
    opened_at: datetime
    #: The position's leverage as the venue reports it (an exchange perpetual's; Bybit
    #: allows fractions such as 2.5); None where the venue has none per position (MT5:
    #: the account's, set at the broker).
    leverage: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolSpec:
    """A symbol's contract specification and price now, as the venue states them: what a
    size must obey (sizing is venue-neutral arithmetic over this, `worker.trading.sizing`).

    Volumes are in the unit the venue's orders count in (MT5 lots, an exchange's contracts,
    or base currency on spot: `contract_size` 1)."""

    symbol: str
    volume_min: Decimal
    #: None when the venue sets no maximum.
    volume_max: Decimal | None
    volume_step: Decimal
    #: How much of the base asset one unit of volume is (MT5 contract size, ccxt contractSize).
    contract_size: Decimal
    #: The smallest order value the venue accepts, in the quote currency; None: no minimum.
    min_notional: Decimal | None
    bid: Decimal
    ask: Decimal
    #: What a price move of 1.0 on one unit of volume is worth in the account's currency
    #: (MT5: tick value / tick size; a linear contract settled in the account's currency:
    #: `contract_size`). Converts notional and stop distance into money of the account.
    unit_move_value: Decimal
    #: The smallest price increment (MT5: the tick size; ccxt: the price precision), for
    #: stops computed from percentages; None: the adapter rounds the prices it sends.
    price_step: Decimal | None = None
    #: Whether the venue trades the symbol on margin (MT5 symbols, perpetuals), so that a
    #: subscription's `leverage` multiplies a balance_pct position; False on spot, where
    #: there is no leverage and a position can never be worth more than the money spent.
    margined: bool = True
    #: Whether an order may set the symbol's leverage at the venue (an exchange
    #: perpetual); False where leverage is the account's (MT5) or there is none (spot).
    leverage_settable: bool = False
    #: Whether an order on the symbol may carry a stop loss and take profit (MT5 symbols;
    #: Bybit and OKX perpetuals); False on spot and where the venue takes none.
    stops_attachable: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountState:
    """The account and everything open on it, read from the venue in one go, now."""

    account: AccountReport
    #: Every open position of the account (none for a spot exchange account).
    positions: tuple[PositionReport, ...]
