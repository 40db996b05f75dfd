"""/v1/trades: place, close, modify and cancel, by curl; list and read past trades.

    curl -X POST $URL/v1/trades -H "Authorization: Bearer $TOKEN" \\
         -H 'Idempotency-Key: "a-fresh-uuid"' \\
         -d '{"symbol": "EURUSD", "side": "buy", "volume": "0.10"}'
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from functions.api import store
from functions.api.deps import IdempotencyKey, RuntimeDep, UserDb, WaitQuery
from functions.api.idempotency import key_reused, request_hash, still_processing
from functions.api.openapi import REPLAYED, documented
from functions.api.paging import BeforeId, next_page
from functions.api.problems import NotFound
from functions.api.schemas.common import IsoDateTime, JobStatusName
from functions.api.schemas.jobs import Pending
from functions.api.schemas.trades import (
    CancelTrade,
    CloseTrade,
    ModifyTrade,
    OpenTrade,
    TradeOut,
    TradeRequest,
    job_payload,
)
from functions.api.scopes import Scope
from functions.api.statuses import (
    AUTHENTICATED,
    AWAITS_JOB,
    BY_ID,
    JOB_FAILURES,
    JSON_BODY,
    LOCATION,
    Outcome,
)
from functions.api.strictjson import StrictJsonRoute
from functions.api.verdicts import answer, await_job, job_problem, still_running
from switchyard.domain import TRADE_JOB_KINDS, AccountId, JobId, JobStatus, OrderType
from switchyard.settings import Settings

router = APIRouter(prefix="/v1/trades", tags=["trades"], route_class=StrictJsonRoute)


def ttl_s_of(body: OpenTrade | CloseTrade | ModifyTrade | CancelTrade, settings: Settings) -> int:
    """The trade's time-to-live: the request's `ttl_s`, else the operator's default."""
    if body.ttl_s is not None:
        return body.ttl_s
    if isinstance(body, OpenTrade):
        if body.type is OrderType.MARKET:
            return settings.trade_ttl_market_s
        return settings.trade_ttl_pending_s
    if isinstance(body, CloseTrade):
        return settings.trade_ttl_close_s
    return settings.trade_ttl_modify_s


class TradePage(BaseModel):
    items: list[TradeOut]
    #: The next (older) page, when there may be one.
    next: str | None


@router.post(
    "",
    response_model=TradeOut,
    **documented(
        Outcome.CREATED,
        *JSON_BODY,
        Outcome.INVALID_IDEMPOTENCY_KEY,
        *BY_ID,
        *AWAITS_JOB,
        Outcome.CONFLICT,
        Outcome.UNPROCESSABLE,
        Outcome.IDEMPOTENCY_KEY_REUSED,
        Outcome.IDEMPOTENCY_KEY_IN_USE,
        scope=Scope.TRADE,
        models={202: Pending},
        headers={201: {LOCATION: "The trade: `/v1/trades/{id}`."}},
        # a finished first answer given again carries the same status, marked replayed
        replayed=(Outcome.CREATED, *JOB_FAILURES),
        say={
            202: "Not done yet: poll `Location`.",
            400: "The body is not valid JSON or repeats a key (`key`), or the "
            "Idempotency-Key header is malformed.",
            404: "`account_id` is not one of your accounts.",
            409: "The account is switched off or not verified; the first request with this "
            "Idempotency-Key is still being processed (poll `Location`); or the trade was "
            "cancelled: `code` `expired` when it was not started within its time-to-live "
            "(nothing was sent).",
            422: "The request is invalid (`errors`), you have no active account, the "
            "Idempotency-Key was used for a different request, or the venue refused the "
            "trade (`code`, `retcode`).",
            503: "The venue or the database is unavailable; see Retry-After.",
        },
    ),
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
    request never places a second trade. A trade not started within `ttl_s` seconds
    (default 30 for a market order, 300 otherwise) is cancelled and never sent: 409 with
    `code` `expired`.
    """
    kind, payload = job_payload(body)
    fingerprint = request_hash(kind, body.account_id, payload, body.ttl_s)
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
                "ttl_s": ttl_s_of(body, runtime.settings),
            },
        )
    assert row is not None
    job_id = JobId(UUID(str(row["job_id"])))
    headers: dict[str, str] = {}
    if row["replayed"]:
        assert idempotency_key is not None
        if row["request_hash"] != fingerprint:
            raise key_reused(idempotency_key)
        headers[REPLAYED] = "true"
        job = await await_job(db, runtime, job_id, 0)
        if not store.is_finished(job):
            raise still_processing(idempotency_key, job_id)
    else:
        job = await await_job(db, runtime, job_id, runtime.wait_s(wait))
    if job["status"] == JobStatus.SUCCEEDED:
        headers[LOCATION] = f"/v1/trades/{job_id}"
        return answer(Outcome.CREATED, TradeOut.from_trade_row(job), headers)
    if not store.is_finished(job):
        pending = Pending(
            detail="the worker has not answered yet; poll the job", job=TradeOut.from_trade_row(job)
        )
        return still_running(pending, job_id, headers)
    problem = job_problem(job)
    problem.headers.update(headers)
    raise problem


@router.get(
    "",
    response_model=TradePage,
    **documented(Outcome.DONE, *AUTHENTICATED, Outcome.INVALID, scope=Scope.READ),
    summary="Your trades",
)
async def list_trades(
    db: UserDb,
    account_id: AccountId | None = None,
    status: JobStatusName | None = None,
    before: Annotated[
        IsoDateTime | None,
        Query(
            description="Only trades created before this ISO 8601 date-time with its offset "
            "(a `created_at`, e.g. 2026-12-01T10:00:00Z): the next, older page."
        ),
    ] = None,
    before_id: BeforeId = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    signal_id: Annotated[
        UUID | None, Query(description="Only the trades this signal created.")
    ] = None,
) -> TradePage:
    """Newest first; `next` is the older page (`before` a `created_at`, and `before_id`
    among the trades of that very time: one alert's jobs share it). Trades a signal
    created say so (`signal_id`, `subscription_id`)."""
    async with db.transaction() as cur:
        rows = await store.trades(
            cur,
            {
                "account_id": account_id,
                "signal_id": signal_id,
                "status": status,
                "before": before,
                "before_id": before_id,
                "limit": limit,
            },
        )
    items = [TradeOut.from_trade_row(row) for row in rows]
    nxt = None
    if len(items) == limit:
        last = items[-1]
        query: dict[str, Any] = {
            "limit": limit,
            "account_id": account_id,
            "status": status,
            "signal_id": signal_id,
        }
        nxt = next_page("/v1/trades", query, last.created_at, ("before_id", str(last.id)))
    return TradePage(items=items, next=nxt)


@router.get(
    "/{trade_id}",
    response_model=TradeOut,
    **documented(Outcome.DONE, *BY_ID, scope=Scope.READ),
    summary="One trade",
)
async def get_trade(trade_id: JobId, db: UserDb) -> TradeOut:
    """The trade's status, fill or error, and the journal rows the worker wrote for it."""
    async with db.transaction() as cur:
        row = await store.job(cur, trade_id)
        if row["kind"] not in TRADE_JOB_KINDS:
            raise NotFound(f"trade {trade_id} not found")
        journal = await store.trade_journal(cur, trade_id)
    return TradeOut.from_trade_row(row, journal)
