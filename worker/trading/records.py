"""What the worker writes about accounts: verification, status, snapshots, positions, deals.

Every venue's reports (`worker.venue`) are stored the same way. Status changes go
through the accounts table, whose trigger writes the audit log (account.verified /
account.failed / account.disabled, with the reason).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from switchyard.db import Connection, wrap_exceptions
from switchyard.domain import AccountId, Venue
from switchyard.queries import queries
from worker.deals import DealCounts, plain, store_deals
from worker.venue import Account, AccountReport, FillReport, PositionReport, VenueSession

#: status_reason is at most 500 characters in the schema.
_REASON_MAX = 500
#: The first read of an account's fills (a first sync) goes this far back.
FIRST_HISTORY = timedelta(days=30)


def load_account(conn: Connection, account_id: UUID) -> Account | None:
    """The account with its sealed credentials (never logged, never returned)."""
    with wrap_exceptions():
        row = conn.execute(queries["account_for_job"], {"id": account_id}).fetchone()
    if row is None:
        return None
    return Account(
        id=AccountId(row["id"]),
        user_id=row["user_id"],
        venue=Venue(row["venue"]),
        login=str(row["login"]),
        server=row["server"],
        environment=row["environment"],
        status=row["status"],
        is_active=row["is_active"],
        risk_limits=dict(row["risk_limits"]),
        ciphertext=row["ciphertext"],
    )


def mark_verified(
    conn: Connection, account: Account, report: AccountReport, verify_interval_s: float
) -> None:
    with wrap_exceptions(), conn.transaction():
        conn.execute(
            queries["mark_account_verified"],
            {
                "id": account.id,
                "currency": report.currency,
                "leverage": report.leverage,
                "permissions": Jsonb(dict(report.permissions)),
                "verify_interval_s": verify_interval_s,
            },
        )
        _snapshot(conn, account, report)


def mark_rejected(conn: Connection, account: Account, reason: str) -> str:
    """Credentials that no longer work (a refused login, or they cannot be decrypted):
    `failed` while pending, `disabled` once they had worked. The new status."""
    params = {"id": account.id, "reason": reason[:_REASON_MAX]}
    with wrap_exceptions():
        if account.status in ("pending", "failed"):
            conn.execute(queries["mark_account_failed"], params)
            return "failed"
        conn.execute(queries["mark_account_disabled"], params)
        return "disabled"


def _snapshot(conn: Connection, account: Account, report: AccountReport) -> None:
    conn.execute(
        queries["insert_balance_snapshot"],
        {
            "user_id": account.user_id,
            "account_id": account.id,
            "balance": report.balance,
            "equity": report.equity,
            "margin": report.margin,
            "free_margin": report.free_margin,
            "currency": report.currency,
            "leverage": report.leverage,
        },
    )


def _position_row(p: PositionReport) -> dict[str, Any]:
    """A position as store_positions reads it: numbers and times as exact text."""
    return {
        "venue_position_id": p.venue_position_id,
        "symbol": p.symbol,
        "side": p.side.value,
        "volume": plain(p.volume),
        "open_price": plain(p.open_price),
        "sl": plain(p.sl),
        "tp": plain(p.tp),
        "profit": plain(p.profit),
        "opened_at": plain(p.opened_at),
    }


def _deal_params(account: Account, f: FillReport) -> dict[str, Any]:
    return {
        "user_id": account.user_id,
        "account_id": account.id,
        "venue_deal_id": f.venue_fill_id,
        "venue_order_id": f.venue_order_id,
        "venue_position_id": f.venue_position_id,
        "symbol": f.symbol,
        "side": None if f.side is None else f.side.value,
        "entry": f.entry,
        "volume": f.volume,
        "price": f.price,
        "profit": f.profit,
        "commission": f.commission,
        "fee": f.fee,
        "swap": f.swap,
        "comment": f.comment,
        "executed_at": f.executed_at,
    }


def last_deal_time(conn: Connection, account_id: UUID) -> datetime | None:
    with wrap_exceptions():
        row = conn.execute(queries["last_deal_time"], {"account_id": account_id}).fetchone()
    return None if row is None else row["last_at"]


def traded_symbols(
    conn: Connection, account_id: UUID, since: datetime, session: VenueSession
) -> frozenset[str]:
    """The symbols of the account's orders that may have filled since `since`: those the
    journal touched since, and resting ones (`placed`) of any age. Read only for a session
    whose fills are read market by market; empty (no query) otherwise."""
    if not session.fills_by_market:
        return frozenset()
    with wrap_exceptions():
        rows = conn.execute(
            queries["traded_symbols"], {"account_id": account_id, "since": since}
        ).fetchall()
    return frozenset(row["symbol"] for row in rows)


def history_since(conn: Connection, account_id: UUID) -> datetime:
    """Where a read of the venue's fills starts: the last stored deal, else 30 days back."""
    last = last_deal_time(conn, account_id)
    return last if last is not None else datetime.now(UTC) - FIRST_HISTORY


def store_sync(
    conn: Connection,
    account: Account,
    report: AccountReport,
    positions: Iterable[PositionReport],
    fills: Iterable[FillReport],
    *,
    job_id: UUID | None = None,
) -> DealCounts:
    """One transaction: snapshot, positions (closed ones removed), deals (see worker.deals)."""
    open_positions = list(positions)
    with wrap_exceptions(), conn.transaction():
        _snapshot(conn, account, report)
        conn.execute(
            queries["store_positions"],
            {
                "user_id": account.user_id,
                "account_id": account.id,
                "rows": Jsonb([_position_row(p) for p in open_positions]),
            },
        )
        counts = store_deals(conn, (_deal_params(account, f) for f in fills), job_id=job_id)
        conn.execute(
            queries["mark_account_synced"],
            {"id": account.id, "currency": report.currency, "leverage": report.leverage},
        )
    return counts
