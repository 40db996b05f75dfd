"""What the worker writes about accounts: verification, status, snapshots, positions, deals.

Status changes go through the accounts table, whose trigger writes the audit log
(account.verified / account.failed / account.disabled, with the reason).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from functions.core.db import Connection, wrap_exceptions
from functions.core.queries import queries
from worker.mt5.constants import DEAL_ENTRY_NAMES, DEAL_TYPE_BUY, DEAL_TYPE_SELL, POSITION_TYPE_BUY
from worker.mt5.session import Mt5Account
from worker.mt5.types import AccountInfo, Deal, Position

#: status_reason is at most 500 characters in the schema.
_REASON_MAX = 500


def load_account(conn: Connection, account_id: UUID) -> dict[str, Any] | None:
    """The account row with its sealed credentials (never logged, never returned)."""
    with wrap_exceptions():
        return conn.execute(queries["account_for_job"], {"id": account_id}).fetchone()


def mt5_account(row: dict[str, Any]) -> Mt5Account:
    return Mt5Account(
        id=row["id"],
        user_id=row["user_id"],
        login=int(row["login"]),
        server=row["server"],
        status=row["status"],
        is_active=row["is_active"],
        risk_limits=dict(row["risk_limits"]),
        ciphertext=row["ciphertext"],
    )


def permissions_of(info: AccountInfo) -> dict[str, Any]:
    return {
        "trade_allowed": info.trade_allowed,
        "trade_expert": info.trade_expert,
        "trade_mode": {0: "demo", 1: "contest", 2: "real"}.get(info.trade_mode, "unknown"),
    }


def mark_verified(
    conn: Connection, account: Mt5Account, info: AccountInfo, verify_interval_s: float
) -> None:
    with wrap_exceptions(), conn.transaction():
        conn.execute(
            queries["mark_account_verified"],
            {
                "id": account.id,
                "currency": info.currency,
                "leverage": info.leverage,
                "permissions": Jsonb(permissions_of(info)),
                "verify_interval_s": verify_interval_s,
            },
        )
        _snapshot(conn, account, info)


def mark_rejected(conn: Connection, account: Mt5Account, reason: str) -> str:
    """A refused login: `failed` while pending, `disabled` once it had worked. The new status."""
    params = {"id": account.id, "reason": reason[:_REASON_MAX]}
    with wrap_exceptions():
        if account.status in ("pending", "failed"):
            conn.execute(queries["mark_account_failed"], params)
            return "failed"
        conn.execute(queries["mark_account_disabled"], params)
        return "disabled"


def _snapshot(conn: Connection, account: Mt5Account, info: AccountInfo) -> None:
    conn.execute(
        queries["insert_balance_snapshot"],
        {
            "user_id": account.user_id,
            "account_id": account.id,
            "balance": info.balance,
            "equity": info.equity,
            "margin": info.margin,
            "free_margin": info.margin_free,
            "currency": info.currency,
            "leverage": info.leverage,
        },
    )


def _position_params(account: Mt5Account, p: Position) -> dict[str, Any]:
    return {
        "user_id": account.user_id,
        "account_id": account.id,
        "venue_position_id": p.ticket,
        "symbol": p.symbol,
        "side": "buy" if p.type == POSITION_TYPE_BUY else "sell",
        "volume": p.volume,
        "open_price": p.price_open,
        "sl": p.sl,
        "tp": p.tp,
        "profit": p.profit,
        "opened_at": datetime.fromtimestamp(p.time, UTC),
    }


def _deal_params(account: Mt5Account, d: Deal) -> dict[str, Any]:
    side = {DEAL_TYPE_BUY: "buy", DEAL_TYPE_SELL: "sell"}.get(d.type)
    return {
        "user_id": account.user_id,
        "account_id": account.id,
        "venue_deal_id": d.ticket,
        "venue_order_id": d.order if d.order != "0" else None,
        "venue_position_id": d.position_id if d.position_id != "0" else None,
        "symbol": d.symbol,
        "side": side,
        "entry": DEAL_ENTRY_NAMES.get(d.entry) if side is not None else None,
        "volume": d.volume,
        "price": d.price,
        "profit": d.profit,
        "commission": d.commission,
        "fee": d.fee,
        "comment": d.comment or None,
        "executed_at": datetime.fromtimestamp(d.time, UTC),
    }


def last_deal_time(conn: Connection, account_id: UUID) -> datetime | None:
    with wrap_exceptions():
        row = conn.execute(queries["last_deal_time"], {"account_id": account_id}).fetchone()
    return None if row is None else row["last_at"]


def store_sync(
    conn: Connection,
    account: Mt5Account,
    info: AccountInfo,
    positions: Iterable[Position],
    deals: Iterable[Deal],
) -> int:
    """One transaction: snapshot, positions (closed ones removed), new deals. New deals count."""
    open_positions = list(positions)
    new_deals = 0
    with wrap_exceptions(), conn.transaction():
        _snapshot(conn, account, info)
        for p in open_positions:
            conn.execute(queries["upsert_position"], _position_params(account, p))
        conn.execute(
            queries["delete_closed_positions"],
            {"account_id": account.id, "open_ids": [p.ticket for p in open_positions]},
        )
        for d in deals:
            new_deals += conn.execute(queries["insert_deal"], _deal_params(account, d)).rowcount
        conn.execute(
            queries["mark_account_synced"],
            {"id": account.id, "currency": info.currency, "leverage": info.leverage},
        )
    return new_deals


def store_position(
    conn: Connection, account: Mt5Account, position: Position | None, ticket: str
) -> None:
    """After a trade: the position as the terminal now has it, or gone."""
    with wrap_exceptions():
        if position is None:
            conn.execute(
                queries["delete_position"], {"account_id": account.id, "venue_position_id": ticket}
            )
        else:
            conn.execute(queries["upsert_position"], _position_params(account, position))
