"""/v1/trades: place, close, modify and cancel, by curl; list and read past trades.

    curl -X POST $URL/v1/trades -H "Authorization: Bearer $TOKEN" \\
         -H 'Idempotency-Key: "a-fresh-uuid"' \\
         -d '{"symbol": "EURUSD", "side": "buy", "volume": "0.10"}'
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from functions.api import store
from functions.api.deps import IdempotencyKey, RuntimeDep, UserDb, WaitQuery
from functions.api.idempotency import key_reused, request_hash, still_processing
from functions.api.outcomes import job_problem
from functions.api.problems import NotFound
from functions.api.responses import WITH_VERDICT
from functions.api.schemas.jobs import Pending
from functions.api.schemas.trades import TRADE_KINDS, TradeOut, TradeRequest, job_payload
from functions.api.verdicts import answer, await_job, still_running
from functions.core.domain import JobStatus

router = APIRouter(prefix="/v1/trades", tags=["trades"])


class TradePage(BaseModel):
    items: list[TradeOut]
    #: The next (older) page, when there may be one.
    next: str | None


@router.post(
    "",
    status_code=201,
    response_model=TradeOut,
    responses={
        202: {"model": Pending, "description": "Not done yet: poll `Location`."},
        **WITH_VERDICT,
    },
    summary="Place a trade (open, close, modify, cancel)",
)
async def place_trade(
    body: TradeRequest,
    db: UserDb,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey,
    wait: WaitQuery = None,
) -> JSONResponse:
    """Queue the trade on your active account (or `account_id`) and wait for the venue.

    201 with the fill (order/ticket, price, volume); 202 + `Location` when the worker
    has not answered within `wait`; 422 with the venue's reason (invalid volume, no
    money, market closed, risk limit...). With `Idempotency-Key`, retrying the same
    request never places a second trade.
    """
    kind, payload = job_payload(body)
    fingerprint = request_hash(kind, body.account_id, payload)
    async with db.transaction() as cur:
        row = await store.one(
            cur,
            "api_enqueue_job",
            {
                "account_id": body.account_id,
                "kind": kind.value,
                "payload": store.jsonb(payload.model_dump(mode="json")),
                "idempotency_key": idempotency_key,
                "request_hash": fingerprint,
            },
        )
    assert row is not None
    job_id = UUID(str(row["job_id"]))
    headers: dict[str, str] = {}
    if row["replayed"]:
        assert idempotency_key is not None
        if row["request_hash"] != fingerprint:
            raise key_reused(idempotency_key)
        headers["Idempotent-Replayed"] = "true"
        job = await await_job(db, runtime, job_id, 0)
        if not store.is_finished(job):
            raise still_processing(idempotency_key, job_id)
    else:
        job = await await_job(db, runtime, job_id, runtime.wait_s(wait))
    if job["status"] == JobStatus.SUCCEEDED:
        headers["Location"] = f"/v1/trades/{job_id}"
        return answer(TradeOut.from_trade_row(job), 201, headers)
    if not store.is_finished(job):
        pending = Pending(
            detail="the worker has not answered yet; poll the job", job=TradeOut.from_trade_row(job)
        )
        return answer(pending, 202, headers | still_running(job_id))
    problem = job_problem(job)
    problem.headers.update(headers)
    raise problem


@router.get("", response_model=TradePage, responses=WITH_VERDICT, summary="Your trades")
async def list_trades(
    db: UserDb,
    account_id: UUID | None = None,
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TradePage:
    """Newest first; pass `before` (a `created_at`) for the next page."""
    async with db.transaction() as cur:
        rows = await store.trades(
            cur,
            {
                "account_id": account_id,
                "status": status,
                "before": before,
                "limit": limit,
            },
        )
    items = [TradeOut.from_trade_row(row) for row in rows]
    nxt = None
    if len(items) == limit:
        query = {"limit": limit, "before": items[-1].created_at.isoformat()}
        query |= {k: str(v) for k, v in (("account_id", account_id), ("status", status)) if v}
        nxt = "/v1/trades?" + urlencode(query)
    return TradePage(items=items, next=nxt)


@router.get("/{trade_id}", response_model=TradeOut, responses=WITH_VERDICT, summary="One trade")
async def get_trade(trade_id: UUID, db: UserDb) -> TradeOut:
    """The trade's status, fill or error, and the journal rows the worker wrote for it."""
    async with db.transaction() as cur:
        row = await store.job(cur, trade_id)
        if row["kind"] not in TRADE_KINDS:
            raise NotFound(f"trade {trade_id} not found")
        journal = await store.trade_journal(cur, trade_id)
    return TradeOut.from_trade_row(row, journal)
