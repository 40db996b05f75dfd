"""What the journal reads answer: positions, deals, P&L and the equity series.

Every amount is the venue's own figure as the worker stored it (a Decimal, written as a
string), in the account's currency (`currency`); nothing here is recomputed from our
requests.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class GroupBy(enum.StrEnum):
    DAY = "day"  #: the calendar day of the deal in `tz`
    SYMBOL = "symbol"  #: the instrument
    ACCOUNT = "account"  #: the account (its id)


class PositionOut(BaseModel):
    """An open position as the venue last reported it (after a trade or a sync)."""

    model_config = ConfigDict(frozen=True)
    id: UUID
    account_id: UUID
    #: The venue's id of the position: what `POST /v1/trades` `{"action": "close"}` takes.
    position: str
    symbol: str
    side: str
    volume: Decimal
    open_price: Decimal
    sl: Decimal | None
    tp: Decimal | None
    #: Floating profit when it was read, in `currency`.
    profit: Decimal | None
    currency: str | None
    opened_at: datetime | None
    #: When the worker read it from the venue.
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PositionOut:
        return cls(position=row["venue_position_id"], **row)


class PositionPage(BaseModel):
    items: list[PositionOut]
    #: The next (older) page, when there may be one.
    next: str | None


class DealOut(BaseModel):
    """One execution (or balance operation) as the venue reported it."""

    model_config = ConfigDict(frozen=True)
    id: UUID
    #: None once the account was deleted (the deal is kept).
    account_id: UUID | None
    venue_deal_id: str
    venue_order_id: str | None
    venue_position_id: str | None
    symbol: str
    #: None for a balance operation (a deposit, a withdrawal), which is no trade.
    side: str | None
    #: `in` opened (part of) a position, `out` / `inout` / `out_by` closed one.
    entry: str | None
    volume: Decimal
    price: Decimal
    profit: Decimal | None
    commission: Decimal | None
    fee: Decimal | None
    #: None when the venue reports no swap per deal.
    swap: Decimal | None
    currency: str | None
    comment: str | None
    executed_at: datetime


class DealPage(BaseModel):
    items: list[DealOut]
    #: The next (older) page, when there may be one.
    next: str | None


class PnlGroup(BaseModel):
    """The deals of one group (a day, a symbol or an account) in one currency."""

    #: The day (`YYYY-MM-DD` in `tz`), the symbol, or the account id (None: a deleted account).
    key: str | None
    #: The account currency of these deals (None: a deleted account's).
    currency: str | None
    #: The venue's realised profit of the deals.
    realised: Decimal
    #: Commission and fees the venue charged (negative).
    fees: Decimal
    swaps: Decimal
    #: realised + fees + swaps.
    net: Decimal
    #: Deals that closed (part of) a position.
    trades: int
    #: Closing deals whose profit was above 0.
    wins: int
    #: wins / trades; None without trades.
    win_rate: float | None
    #: Every trade deal of the group, opening ones included.
    deals: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PnlGroup:
        trades = int(row["trades"])
        rate = round(int(row["wins"]) / trades, 4) if trades else None
        return cls(win_rate=rate, **row)


class PnlOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "group_by": "day",
                    "tz": "UTC",
                    "since": "2026-12-01T00:00:00Z",
                    "until": None,
                    "items": [
                        {
                            "key": "2026-12-01",
                            "currency": "USD",
                            "realised": "42.10",
                            "fees": "-1.40",
                            "swaps": "-0.35",
                            "net": "40.35",
                            "trades": 3,
                            "wins": 2,
                            "win_rate": 0.6667,
                            "deals": 6,
                        }
                    ],
                }
            ]
        }
    )
    group_by: GroupBy
    #: The time zone whose calendar days `day` groups by.
    tz: str
    since: datetime | None
    until: datetime | None
    items: list[PnlGroup]


class EquityPoint(BaseModel):
    """A balance snapshot; when downsampled, the last one of its span of time."""

    taken_at: datetime
    balance: Decimal
    equity: Decimal | None
    margin: Decimal | None
    free_margin: Decimal | None
    currency: str
    #: The lowest and highest equity of the snapshots this point stands for.
    equity_min: Decimal | None
    equity_max: Decimal | None
    #: How many snapshots this point stands for (1 unless downsampled).
    snapshots: int


class EquityOut(BaseModel):
    account_id: UUID
    since: datetime | None
    until: datetime | None
    #: More snapshots than `points` were in the range: each point ends an equal span of time.
    downsampled: bool
    items: list[EquityPoint] = Field(default_factory=list)
