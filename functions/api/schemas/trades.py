"""Trade requests as a curl user writes them: one endpoint, an `action` (default `open`).

Each request model *is* the job payload model of `switchyard.domain` plus the
routing fields (`action`, `account_id`, `ttl_s`), so what the worker parses is exactly
what was validated here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Strict, Tag, field_validator

from functions.api.schemas.common import printable
from functions.api.schemas.jobs import JobOut
from switchyard.domain import (
    PAYLOAD_MODELS,
    AccountId,
    CancelPayload,
    ClosePayload,
    JobKind,
    ModifyPayload,
    OrderPayload,
    Payload,
)

_ACCOUNT = Field(default=None, description="Which of your accounts; your active one when absent.")
#: The longest time-to-live a trade may ask for: one day.
MAX_TTL_S = 86_400
#: Seconds a trade may wait for the worker (an integer: never a bool or a float).
TtlSeconds = Annotated[int, Strict(), Field(ge=1, le=MAX_TTL_S)]
_TTL = Field(
    default=None,
    description="Seconds the trade may wait to be started (1-86400): not started by then, it "
    "ends `cancelled` with error code `expired` and is never sent. Default (set by the "
    "operator): 30 for a market order, 300 for a pending order, a close, a modify or a cancel.",
)


class OpenTrade(OrderPayload):
    """Open a position (market) or place a pending order (limit, stop)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"symbol": "EURUSD", "side": "buy", "volume": "0.10", "sl": "1.0750"},
                {
                    "action": "open",
                    "symbol": "BTC/USDT",
                    "side": "sell",
                    "type": "limit",
                    "volume": "0.01",
                    "price": "98000",
                },
                {"symbol": "BTC/USDT:USDT", "side": "buy", "volume": "0.01", "leverage": 5},
            ]
        },
    )
    action: Literal["open"] = "open"
    account_id: AccountId | None = _ACCOUNT
    ttl_s: TtlSeconds | None = _TTL

    @field_validator("comment")
    @classmethod
    def _printable_comment(cls, value: str | None) -> str | None:
        return None if value is None else printable(value)


class CloseTrade(ClosePayload):
    """Close a position, or part of it with `volume`."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"action": "close", "position": "123456789"},
                {"action": "close", "position": "123456789", "volume": "0.05"},
            ]
        },
    )
    action: Literal["close"]
    account_id: AccountId | None = _ACCOUNT
    ttl_s: TtlSeconds | None = _TTL


class ModifyTrade(ModifyPayload):
    """Move the SL/TP of a position, or the price/SL/TP of a pending order."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"action": "modify", "position": "123456789", "sl": "1.0800", "tp": "1.1000"}
            ]
        },
    )
    action: Literal["modify"]
    account_id: AccountId | None = _ACCOUNT
    ttl_s: TtlSeconds | None = _TTL


class CancelTrade(CancelPayload):
    """Remove a pending order."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"action": "cancel", "order": "987654321"}]},
    )
    action: Literal["cancel"]
    account_id: AccountId | None = _ACCOUNT
    ttl_s: TtlSeconds | None = _TTL


def _action_of(value: Any) -> str:
    if isinstance(value, dict):
        action = value.get("action", "open")
        return action if isinstance(action, str) else "invalid"
    return str(getattr(value, "action", "open"))


TradeRequest = Annotated[
    Annotated[OpenTrade, Tag("open")]
    | Annotated[CloseTrade, Tag("close")]
    | Annotated[ModifyTrade, Tag("modify")]
    | Annotated[CancelTrade, Tag("cancel")],
    Discriminator(
        _action_of,
        custom_error_type="invalid_action",
        custom_error_message="action must be one of open, close, modify, cancel",
    ),
]

#: The job kind each action becomes.
ACTION_KINDS: dict[str, JobKind] = {
    "open": JobKind.ORDER,
    "close": JobKind.CLOSE,
    "modify": JobKind.MODIFY,
    "cancel": JobKind.CANCEL,
}

#: Fields that say where and how long, not what: they are not part of the job payload.
_ROUTING = frozenset({"action", "account_id", "ttl_s"})


def job_payload(
    request: OpenTrade | CloseTrade | ModifyTrade | CancelTrade,
) -> tuple[JobKind, Payload]:
    """The job kind and the domain payload (exactly the worker's model) of a request."""
    kind = ACTION_KINDS[request.action]
    values = request.model_dump(mode="json", exclude=set(_ROUTING))
    return kind, PAYLOAD_MODELS[kind].model_validate(values)


class FillOut(BaseModel):
    """What the venue did: ticket/order id, price and volume."""

    model_config = ConfigDict(extra="allow")
    status: str
    order: str | None = None
    deal: str | None = None
    position: str | None = None
    price: Decimal | None = None
    volume: Decimal | None = None
    retcode: int | None = None


class JournalEntry(BaseModel):
    """One row of the trade journal the worker wrote for this trade."""

    id: UUID
    client_order_id: str
    venue_order_id: str | None
    action: str
    symbol: str
    side: str | None
    order_type: str | None
    volume: Decimal | None
    price: Decimal | None
    sl: Decimal | None
    tp: Decimal | None
    status: str
    filled_volume: Decimal | None
    fill_price: Decimal | None
    retcode: int | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


class TradeOut(JobOut):
    """A trade: the job, its fill when done, and the journal rows behind it."""

    fill: FillOut | None = None
    journal: list[JournalEntry] = Field(default_factory=list)
    signal_id: UUID | None = Field(
        default=None, description="The signal (channel alert) this trade came from."
    )
    subscription_id: UUID | None = Field(
        default=None, description="Your subscription that turned the signal into this trade."
    )

    @classmethod
    def from_trade_row(
        cls, row: dict[str, Any], journal: list[dict[str, Any]] | None = None
    ) -> TradeOut:
        job = JobOut.from_row(row)
        fill = None
        result = row["result"]
        # A close/cancel signal's result names the jobs it queued, not a fill.
        if row["status"] == "succeeded" and isinstance(result, dict) and "status" in result:
            fill = FillOut.model_validate(result)
        links = {**job.links, "trade": f"/v1/trades/{row['id']}"}
        return cls(
            **job.model_dump(exclude={"links"}),
            links=links,
            fill=fill,
            signal_id=row.get("signal_id"),
            subscription_id=row.get("subscription_id"),
            journal=[JournalEntry.model_validate(j) for j in journal or []],
        )
