"""What the event stream says about each change: the shapes the API already answers.

A `job` event is a job as `GET /v1/jobs/{id}` shows it — for a trade, as `GET
/v1/trades/{id}` does (its `fill`, `error` and request; not the journal, which arrives as
`order` events) — and, for other jobs, without their payload and result. An `account`
event is the account as `GET /v1/accounts/{id}` shows it, without the balance (read the
account for it), or `{"id": ..., "deleted": true}`. An `order` event is one row of the
trade journal. The log rows hold only these fields (the triggers of
supabase/migrations/20261203120000_events.sql pick them): never a credential.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from functions.api.schemas.accounts import AccountOut
from functions.api.schemas.jobs import JobOut
from functions.api.schemas.trades import TradeOut
from switchyard.domain import TRADE_JOB_KINDS, JobKind

log = logging.getLogger("switchyard.functions.events")

#: "xact_id-id": two unsigned integers (a 64-bit transaction id, a bigint).
_CURSOR = re.compile(r"([0-9]{1,20})-([0-9]{1,19})")


@dataclass(frozen=True, order=True, slots=True)
class Cursor:
    """A position in the event log: commit order (`xact_id`), then insert order (`id`)."""

    xact_id: int
    id: int

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """The cursor an event id (`Last-Event-ID`) names; None when it is not one."""
        match = _CURSOR.fullmatch(text.strip())
        if match is None:
            return None
        xact_id, event_id = int(match[1]), int(match[2])
        if xact_id >= 2**64 or event_id >= 2**63:
            return None
        return cls(xact_id, event_id)

    def __str__(self) -> str:
        return f"{self.xact_id}-{self.id}"

    def params(self, prefix: str = "") -> dict[str, int]:
        return {f"{prefix}xact_id": self.xact_id, f"{prefix}id": self.id}


@dataclass(frozen=True, slots=True)
class Event:
    """One event, ready to be written: its cursor is its SSE id."""

    cursor: Cursor
    type: str
    data: str

    def encode(self) -> bytes:
        return f"id: {self.cursor}\nevent: {self.type}\ndata: {self.data}\n\n".encode()


def _job(data: dict[str, Any]) -> dict[str, Any]:
    row = {**data, "id": uuid.UUID(data["id"])}  # a JobId, as the table's rows give it
    if JobKind(data["kind"]) in TRADE_JOB_KINDS:
        trade = TradeOut.from_trade_row({**row, "payload": data.get("payload") or {}})
        return trade.model_dump(mode="json", exclude={"journal"})
    job = JobOut.from_row({**row, "payload": {}, "result": None})
    return job.model_dump(mode="json", exclude={"payload", "result"})


def _account(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("deleted"):
        return {"id": data["id"], "deleted": True}
    return AccountOut.from_row(data).model_dump(mode="json", exclude={"balance"})


def shaped(row: dict[str, Any]) -> Event:
    """The event of one log row (`api_events_after`)."""
    cursor = Cursor(int(row["xact_id"]), int(row["id"]))
    data: dict[str, Any] = row["data"]
    try:
        if row["type"] == "job":
            body = _job(data)
        elif row["type"] == "account":
            body = _account(data)
        else:
            body = data
    except (ValidationError, ValueError, KeyError) as exc:
        # A row the models cannot read is a bug of ours: said once in the log, and the
        # client still learns that this subject changed (it can read it). Not the exception
        # itself: a validation error quotes the values it read.
        log.error(  # noqa: TRY400
            "event %s (%s) cannot be shaped: %s", cursor, row["type"], type(exc).__name__
        )
        body = {"id": str(row["subject_id"])}
    return Event(cursor, str(row["type"]), json.dumps(body, separators=(",", ":")))


def control(kind: str, body: dict[str, Any], cursor: Cursor | None = None) -> bytes:
    """A stream's own event (`ready`, `reset`, `end`), with an id when it moves the cursor."""
    line = f"id: {cursor}\n" if cursor is not None else ""
    return f"{line}event: {kind}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n".encode()
