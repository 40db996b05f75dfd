"""Deals read from a venue, stored once per (account, venue deal id), never silently merged.

A sync re-reads a window of history, so most deals it sees are already stored: reading
the same deal again changes nothing. A deal id the venue now reports with *other*
content (another price, volume, time…) means the venue's history and ours disagree — a
terminal that lost its state and renumbered its tickets, a broker that rewrote history.
Nothing automatic can say which side is right, so the stored row is left exactly as it
was, and the disagreement is made loud and durable:

* an ERROR log line for the operator (deal id, account, the fields that differ);
* a count, `conflicting_deals`, in the sync job's result;
* one `deal.conflict` audit row per distinct disagreement, with both versions of the
  differing fields, which the account's owner can read like the rest of their audit log
  (the log line rotates away; the venue's version would otherwise be lost).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from switchyard.db import Connection
from switchyard.queries import queries

log = logging.getLogger(__name__)

#: What a deal says, as stored; a venue deal id means these, once and for all.
CONTENT_FIELDS = (
    "venue_order_id",
    "venue_position_id",
    "symbol",
    "side",
    "entry",
    "volume",
    "price",
    "profit",
    "commission",
    "fee",
    "swap",
    "comment",
    "executed_at",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DealCounts:
    #: Deals stored for the first time.
    new: int
    #: Deal ids the venue reported with content other than the stored row's (row kept).
    conflicting: int


def plain(value: Any) -> Any:
    """A column value as JSON: numbers and times as text, exactly as compared."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A deal's parameters as JSON for identical_deals: numbers and times as exact text."""
    return {k: plain(v) for k, v in row.items() if k in CONTENT_FIELDS or k == "venue_deal_id"}


def _differences(stored: dict[str, Any], reported: dict[str, Any]) -> list[str]:
    fields = [f for f in CONTENT_FIELDS if stored[f] != reported[f]]
    # The database said they differ; name every field if Python's equality cannot tell.
    return fields or list(CONTENT_FIELDS)


def store_deals(
    conn: Connection, rows: Iterable[dict[str, Any]], *, job_id: UUID | None
) -> DealCounts:
    """Insert each deal row (insert_deal parameters); report, never merge, a conflict.

    Runs inside the caller's transaction.
    """
    new = conflicting = 0
    reported = list(rows)
    by_account: dict[Any, list[dict[str, Any]]] = {}
    for row in reported:
        by_account.setdefault(row["account_id"], []).append(row)
    known: set[tuple[Any, str]] = set()
    for account_id, group in by_account.items():
        found = conn.execute(
            queries["identical_deals"],
            {"account_id": account_id, "rows": Jsonb([_as_json(r) for r in group])},
        ).fetchall()
        known |= {(account_id, f["venue_deal_id"]) for f in found}
    for row in reported:
        if (row["account_id"], row["venue_deal_id"]) in known:
            continue  # the same deal, read again
        if conn.execute(queries["insert_deal"], row).rowcount:
            new += 1
            continue
        conn.execute(queries["fill_in_deal_swap"], row)
        stored = conn.execute(queries["stored_deal_if_different"], row).fetchone()
        if stored is None:
            continue  # the same deal, read again
        conflicting += 1
        fields = _differences(stored, row)
        log.error(
            "deal %s of account %s: the venue now reports other %s than the stored row; "
            "the stored row is kept (audit: deal.conflict)",
            row["venue_deal_id"],
            row["account_id"],
            ", ".join(fields),
        )
        detail = {
            "venue_deal_id": row["venue_deal_id"],
            "stored": {f: plain(stored[f]) for f in fields},
            "reported": {f: plain(row[f]) for f in fields},
        }
        conn.execute(
            queries["audit_deal_conflict"],
            {
                "user_id": row["user_id"],
                "account_id": row["account_id"],
                "job_id": job_id,
                "detail": Jsonb(detail),
            },
        )
    return DealCounts(new=new, conflicting=conflicting)
