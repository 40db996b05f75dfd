"""Jobs as clients see them: what was asked, where it stands, what came of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from functions.api.schemas.common import JobKindName, JobStatusName
from switchyard.domain import TRADE_JOB_KINDS, AccountId, JobId, JobKind, client_order_id


class JobProblem(BaseModel):
    """Why a job failed or was cancelled: `code` is stable, `message` is for people."""

    code: str
    message: str
    retcode: int | None = None

    @classmethod
    def from_column(cls, value: Any) -> JobProblem | None:
        if not isinstance(value, dict):
            return None
        retcode = value.get("retcode")
        return cls(
            code=str(value.get("code", "internal")),
            message=str(value.get("message", "")),
            retcode=retcode if isinstance(retcode, int) else None,
        )


class JobOut(BaseModel):
    """A job: a verification, a switch or a trade the worker carries out."""

    id: JobId
    kind: JobKindName
    status: JobStatusName
    account_id: AccountId | None
    client_order_id: str | None = Field(
        description="Sent to the venue with a trade (MT5: in the comment) to find it again."
    )
    payload: dict[str, Any]
    result: dict[str, Any] | None = Field(description="A fill or an account snapshot.")
    error: JobProblem | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(
        description="A trade's deadline: not started by then, it ends `cancelled` with "
        "error code `expired` and is never sent. Null for jobs without one."
    )
    links: dict[str, str]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JobOut:
        kind = JobKind(row["kind"])
        return cls(
            id=row["id"],
            kind=row["kind"],
            status=row["status"],
            account_id=row["account_id"],
            client_order_id=client_order_id(row["id"]) if kind in TRADE_JOB_KINDS else None,
            payload=row["payload"],
            result=row["result"],
            error=JobProblem.from_column(row["error"]),
            attempts=row["attempts"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            expires_at=row["expires_at"],
            links={"self": f"/v1/jobs/{row['id']}"},
        )


class Pending(BaseModel):
    """The worker has not answered within the wait: poll `job.links.self`."""

    detail: str
    job: JobOut
