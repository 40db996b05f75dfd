"""/v1/jobs: any job's status and result (verifications, switches, trades)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.api import store
from functions.api.deps import UserDb
from functions.api.openapi import documented
from functions.api.schemas.jobs import JobOut
from functions.api.scopes import Scope
from functions.api.statuses import BY_ID, Outcome
from functions.api.strictjson import StrictJsonRoute
from switchyard.domain import JobId

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], route_class=StrictJsonRoute)


@router.get(
    "/{job_id}",
    response_model=JobOut,
    **documented(Outcome.DONE, *BY_ID, scope=Scope.READ),
    summary="A job's status",
)
async def get_job(job_id: JobId, db: UserDb) -> JobOut:
    """Where a job stands and, once it ended, its result or error. Poll this after a 202."""
    async with db.transaction() as cur:
        return JobOut.from_row(await store.job(cur, job_id))
