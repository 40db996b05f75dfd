"""Waiting for a job's verdict and reading it, as the caller, without holding a connection."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from functions.api import store
from functions.api.runtime import Runtime
from functions.api.session import UserSession


async def await_job(
    db: UserSession, runtime: Runtime, job_id: UUID, wait_s: float
) -> dict[str, Any]:
    """The job row once it ended, or as it stands when `wait_s` runs out."""

    async def read() -> dict[str, Any]:
        async with db.transaction() as cur:
            return await store.job(cur, job_id)

    return await runtime.waiter.wait(job_id, wait_s, read, store.is_finished)


def answer(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


def still_running(job_id: UUID) -> dict[str, str]:
    """Headers of a 202: where to poll, and when."""
    return {"Location": f"/v1/jobs/{job_id}", "Retry-After": "1"}
