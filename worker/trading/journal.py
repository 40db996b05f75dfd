"""The trade journal (public.orders): one row per client order id, written before sending.

    (no row) ──sent──▶ sent ──▶ filled | placed | closed | modified | cancelled
                         │  └──▶ rejected   (definite: nothing happened; may be resent)
                         └────▶ unknown    (ambiguous: look it up before anything else)

A row in `sent` or `unknown` means an earlier attempt may have reached the venue: the
next attempt looks the client order id up there before it may send again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal
from uuid import UUID

from switchyard.db import Connection, wrap_exceptions
from switchyard.domain import AccountId, ClientOrderId, JobId
from switchyard.queries import queries
from worker.venue import Action, DoneStatus

#: Statuses after which the order's effect is known to have happened.
DONE_STATUSES: Final = frozenset({"filled", "placed", "closed", "modified", "cancelled"})
#: Statuses after which the effect may or may not have happened.
UNSURE_STATUSES: Final = frozenset({"sent", "unknown"})


def may_have_effect(status: str | None) -> bool:
    """Whether an attempt may have reached the venue: a row in any status but `rejected`."""
    return status is not None and status != "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    status: str
    venue_order_id: str | None
    retcode: int | None
    fill_price: Decimal | None
    filled_volume: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent:
    """What is about to be sent, as the journal records it."""

    user_id: UUID
    account_id: AccountId
    job_id: JobId
    client_order_id: ClientOrderId
    action: Action
    symbol: str
    side: str | None = None
    order_type: str | None = None
    volume: Decimal | None = None
    price: Decimal | None = None
    sl: Decimal | None = None
    tp: Decimal | None = None


class Journal:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, user_id: UUID, client_order_id: ClientOrderId) -> Entry | None:
        with wrap_exceptions():
            row = self.conn.execute(
                queries["journal_get"], {"user_id": user_id, "client_order_id": client_order_id}
            ).fetchone()
        if row is None:
            return None
        return Entry(
            status=row["status"],
            venue_order_id=row["venue_order_id"],
            retcode=row["retcode"],
            fill_price=row["fill_price"],
            filled_volume=row["filled_volume"],
        )

    def sent(self, intent: Intent) -> bool:
        """Record the intent as `sent` (committed before the send).

        Call it only once an earlier attempt's row is resolved (rejected, or looked up and
        provably not executed). False: the row says the order is already done.
        """
        params: dict[str, Any] = {
            "user_id": intent.user_id,
            "account_id": intent.account_id,
            "job_id": intent.job_id,
            "client_order_id": intent.client_order_id,
            "action": intent.action,
            "symbol": intent.symbol,
            "side": intent.side,
            "order_type": intent.order_type,
            "volume": intent.volume,
            "price": intent.price,
            "sl": intent.sl,
            "tp": intent.tp,
        }
        with wrap_exceptions():
            return self.conn.execute(queries["journal_sent"], params).fetchone() is not None

    def outcome(
        self,
        user_id: UUID,
        client_order_id: ClientOrderId,
        status: DoneStatus | Literal["rejected", "unknown"],
        *,
        venue_order_id: str | None = None,
        filled_volume: Decimal | None = None,
        fill_price: Decimal | None = None,
        retcode: int | None = None,
        reason: str | None = None,
    ) -> None:
        with wrap_exceptions():
            self.conn.execute(
                queries["journal_outcome"],
                {
                    "user_id": user_id,
                    "client_order_id": client_order_id,
                    "status": status,
                    "venue_order_id": venue_order_id,
                    "filled_volume": filled_volume,
                    "fill_price": fill_price,
                    "retcode": retcode,
                    "reason": None if reason is None else reason[:500],
                },
            )
