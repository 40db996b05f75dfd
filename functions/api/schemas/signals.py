"""Signal channels, subscriptions and the webhook's alert, as clients send and read them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, field_validator

from functions.api.schemas.common import printable
from switchyard.domain import Leverage, SignalAction, Sizing

_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
#: A TradingView ticker (`BTCUSDT`, `FX:EURUSD`) or a venue's symbol (`BTC/USDT:USDT`).
_Symbol = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._/:#!-]+$")]
_VenueSymbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._/:#-]+$")]
_Price = Annotated[Decimal, Field(gt=0, max_digits=20, decimal_places=10, allow_inf_nan=False)]
_Volume = Annotated[
    Decimal, Field(gt=0, le=1_000_000, max_digits=20, decimal_places=8, allow_inf_nan=False)
]
_Pct = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=6, allow_inf_nan=False)]
_Confidence = Annotated[
    Decimal, Field(ge=0, le=1_000_000, max_digits=16, decimal_places=6, allow_inf_nan=False)
]
_Strict = ConfigDict(extra="forbid", frozen=True)
#: A JSON true or false: never "yes", "false", 1 or 0 (pydantic would coerce them).
JsonBool = Annotated[bool, Strict()]


class NewChannel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"name": "Gold breakout", "public": True}]},
    )
    name: _Name
    public: JsonBool = Field(
        default=False, description="Anyone signed in may subscribe; private: only you."
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        return printable(value)


class ChannelChange(BaseModel):
    """What the owner may change of a channel (PATCH): its name, who may subscribe."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"name": "Gold breakout (H4)"}, {"public": False}]},
    )
    name: _Name | None = None
    public: JsonBool | None = Field(
        default=None,
        description="false: nobody new may subscribe; those who already do keep "
        "receiving its alerts (and seeing its name) until they unsubscribe.",
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return None if value is None else printable(value)


class ChannelOut(BaseModel):
    """A channel. The owner sees its delivery counts; a subscriber sees its name."""

    id: UUID
    name: str
    public: bool
    webhook_url: str | None = Field(
        default=None, description="Where TradingView posts the alert (the owner's view)."
    )
    deliveries: int | None = Field(
        default=None, description="Alerts accepted so far (the owner's view)."
    )
    queued: int | None = Field(default=None, description="Trade jobs they queued in all.")
    skipped: int | None = Field(default=None, description="Subscriptions they skipped in all.")
    created_at: datetime


class ChannelCreated(ChannelOut):
    """The new channel and its secret: shown here (and on rotation) only, stored hashed."""

    secret: str


class SecretOut(BaseModel):
    """The channel's new secret: the old one stops working now."""

    id: UUID
    webhook_url: str
    secret: str


class SubscriptionSettings(BaseModel):
    """What a subscription may change later (PATCH): every field optional there."""

    model_config = _Strict
    symbols: dict[_Symbol, _VenueSymbol] | None = Field(
        default=None,
        max_length=500,
        description='The alert\'s symbol → your venue\'s: `{"BTCUSDT": "BTC/USDT"}`. An alert '
        "for a symbol not listed is skipped (`symbol_not_mapped`). `FX:EURUSD` also matches "
        "the key `EURUSD`.",
    )
    sizing: Sizing | None = Field(
        default=None,
        description='`{"mode": "fixed", "volume": 0.01}`, `{"mode": "balance_pct", '
        '"percent": 2}` (a position worth 2% of the balance, × leverage) or '
        '`{"mode": "risk_pct", "percent": 1}` (lose 1% of the balance at the stop).',
    )
    leverage: Leverage | None = None
    sl_pct: Annotated[_Pct, Field(lt=100)] | None = Field(
        default=None, description="Stop loss this % from the entry, when the alert has no sl."
    )
    tp_pct: Annotated[_Pct, Field(le=1000)] | None = Field(
        default=None, description="Take profit this % from the entry, when the alert has no tp."
    )
    min_confidence: _Confidence | None = Field(
        default=None, description="Skip alerts whose `confidence` is below (or missing)."
    )
    max_open_positions: Annotated[int, Strict(), Field(ge=1, le=10_000)] | None = Field(
        default=None, description="Skip opening alerts while the account holds this many."
    )
    auto_trade: JsonBool | None = Field(
        default=None, description="Off: alerts are recorded as skipped, no trade is queued."
    )


class NewSubscription(SubscriptionSettings):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "channel_id": "5f0c…",
                    "account_id": "9a1b…",
                    "sizing": {"mode": "fixed", "volume": 0.01},
                    "symbols": {"EURUSD": "EURUSD", "BTCUSDT": "BTC/USDT"},
                    "auto_trade": True,
                }
            ]
        },
    )
    channel_id: UUID
    account_id: UUID
    sizing: Sizing  # required here


class SubscriptionOut(BaseModel):
    id: UUID
    channel_id: UUID
    channel_name: str | None
    account_id: UUID
    symbols: dict[str, str]
    sizing: dict[str, Any]
    leverage: int | None
    sl_pct: Decimal | None
    tp_pct: Decimal | None
    min_confidence: Decimal | None
    max_open_positions: int | None
    auto_trade: bool
    created_at: datetime
    updated_at: datetime
    recent: list[DeliveryOut] = Field(
        default_factory=list,
        description="What the latest alerts did here: queued (`job_id`) or skipped (`reason`).",
    )


class DeliveryOut(BaseModel):
    signal_id: UUID
    status: str
    reason: str | None
    job_id: UUID | None
    created_at: datetime


class Alert(BaseModel):
    """The webhook's body (JSON, sent as application/json or text/plain): the secret and
    the alert."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"secret": "…", "action": "buy", "symbol": "EURUSD", "id": "alert-123"},
                {"secret": "…", "action": "close_long", "symbol": "BINANCE:BTCUSDT"},
            ]
        },
    )
    secret: str = Field(min_length=1, max_length=200)
    action: SignalAction
    symbol: _Symbol
    price: _Price | None = None
    sl: _Price | None = None
    tp: _Price | None = None
    size: _Volume | None = None
    confidence: _Confidence | None = None
    id: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None, description="The alert's id: a second delivery with it fans out no more."
    )

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str | None) -> str | None:
        return None if value is None else printable(value)


class Delivered(BaseModel):
    """Counts only: nothing about who subscribes."""

    queued: int
    skipped: int


SubscriptionOut.model_rebuild()
