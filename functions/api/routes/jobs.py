"""/v1/jobs: any job's status and result (verifications, switches, trades)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from functions.api import store
from functions.api.deps import UserDb
from functions.api.responses import ERRORS
from functions.api.schemas.jobs import JobOut

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut, responses=ERRORS, summary="A job's status")
async def get_job(job_id: UUID, db: UserDb) -> JobOut:
    """Where a job stands and, once it ended, its result or error. Poll this after a 202."""
    async with db.transaction() as cur:
        return JobOut.from_row(await store.job(cur, job_id))
