"""The functions' reads and writes, each one named query run on the caller's cursor."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from functions.api.problems import NotFound
from functions.api.transactions import Cursor
from switchyard.domain import TERMINAL_JOB_STATUSES, AccountId, JobId
from switchyard.queries import queries


async def one(cur: Cursor, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
    await cur.execute(queries[name], params)
    return await cur.fetchone()


async def account(cur: Cursor, account_id: AccountId) -> dict[str, Any]:
    """The caller's account; anyone else's is exactly as missing."""
    row = await one(cur, "api_accounts", {"account_id": account_id})
    if row is None:
        raise NotFound(f"account {account_id} not found")
    return row


async def accounts(cur: Cursor) -> list[dict[str, Any]]:
    await cur.execute(queries["api_accounts"], {"account_id": None})
    return await cur.fetchall()


async def job(cur: Cursor, job_id: JobId) -> dict[str, Any]:
    """The caller's job as it stands; one still queued past its deadline is expired first."""
    row = await one(cur, "api_get_job", {"job_id": job_id})
    if row is not None and row["overdue"]:
        await _expire(cur, job_id)
        row = await one(cur, "api_get_job", {"job_id": job_id})
    if row is None:
        raise NotFound(f"job {job_id} not found")
    return row


async def trades(cur: Cursor, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Trade jobs, newest first; filters: account_id, status, before, limit.

    Queued trades past their deadline are expired first, so no page says "queued" for a
    trade that can no longer run.
    """
    await cur.execute(queries["api_list_trades"], filters)
    rows = await cur.fetchall()
    overdue = [row["id"] for row in rows if row["overdue"]]
    if not overdue:
        return rows
    for job_id in overdue:
        await _expire(cur, job_id)
    await cur.execute(queries["api_list_trades"], filters)
    return await cur.fetchall()


async def _expire(cur: Cursor, job_id: JobId) -> None:
    """`private.expire_job`: a no-op when a worker claimed the job in the meantime."""
    await cur.execute(queries["api_expire_job"], {"job_id": job_id})
    await cur.fetchone()


async def trade_journal(cur: Cursor, job_id: JobId) -> list[dict[str, Any]]:
    await cur.execute(queries["api_trade_orders"], {"job_id": job_id})
    return await cur.fetchall()


async def job_id_of(cur: Cursor, name: str, params: dict[str, Any]) -> JobId:
    """Run a private function that queues a job; its id."""
    row = await one(cur, name, params)
    assert row is not None
    return JobId(UUID(str(row["job_id"])))


def jsonb(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def is_finished(row: dict[str, Any]) -> bool:
    return row["status"] in TERMINAL_JOB_STATUSES
