"""A job's verdict: waited for as the caller (without holding a connection), and answered.

    await_job      the job row once it ended, or as it stands when the wait runs out
    job_problem    a job that ended `failed` or `cancelled`, as the Problem of its outcome
    answer         a success outcome with its body; `still_running` the 202 of a job

The worker writes `jobs.error` as a `JobError` (code, message, retcode); the message is
written for the user and never holds a secret, so it becomes the problem's `detail`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from functions.api import store
from functions.api.problems import Problem
from functions.api.runtime import Runtime
from functions.api.schemas.jobs import JobOut
from functions.api.statuses import LOCATION, Cancellation, Outcome, fixed_headers, status_of
from functions.api.transactions import UserSession
from switchyard.domain import JobError, JobId, JobStatus

log = logging.getLogger("switchyard.functions")


async def await_job(
    db: UserSession, runtime: Runtime, job_id: JobId, wait_s: float
) -> dict[str, Any]:
    """The job row once it ended, or as it stands when `wait_s` runs out."""

    async def read() -> dict[str, Any]:
        async with db.transaction() as cur:
            return await store.job(cur, job_id)

    return await runtime.waiter.wait(job_id, wait_s, read, store.is_finished)


def answer(
    outcome: Outcome, model: BaseModel, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """`model` as the answer of a success `outcome`, with the headers it always carries."""
    return JSONResponse(
        model.model_dump(mode="json"),
        status_code=status_of(outcome),
        headers={**(headers or {}), **fixed_headers(outcome)},
    )


def still_running(
    model: BaseModel, job_id: JobId, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The worker has not answered yet: `model`, and where to poll."""
    return answer(Outcome.STILL_RUNNING, model, {**(headers or {}), LOCATION: job_link(job_id)})


def job_link(job_id: JobId) -> str:
    return f"/v1/jobs/{job_id}"


def _expired(job: JobOut) -> str:
    """Why an expired trade did not run, said the same way whoever expired it."""
    deadline = f" (by {job.expires_at.isoformat()})" if job.expires_at else ""
    return (
        f"it was not started within its time-to-live{deadline}; nothing was sent to the "
        "venue. Place it again, with a new Idempotency-Key, if you still want it"
    )


def _job_error(value: Any) -> JobError | None:
    try:
        return JobError.model_validate(value)
    except ValidationError:
        return None


def job_problem(row: dict[str, Any]) -> Problem:
    """The Problem of a job that ended `failed` (its error code) or `cancelled` (its reason)."""
    job = JobOut.from_row(row)
    extra: dict[str, Any] = {"job": job.model_dump(mode="json")}
    headers = {LOCATION: job.links["self"]}
    if row["status"] == JobStatus.CANCELLED:
        reason = job.error.message if job.error else "it was withdrawn before it ran"
        extra["code"] = job.error.code if job.error else Cancellation.WITHDRAWN.value
        cancellation = Cancellation.of(extra["code"])
        if cancellation is Cancellation.EXPIRED:
            reason = _expired(job)
        return Problem(
            cancellation, f"the job was cancelled: {reason}", headers=headers, extra=extra
        )
    error = _job_error(row["error"])
    if error is None:
        # Not the error itself: a pydantic message quotes the value it refused.
        log.error("job %s failed with an error that is not a JobError", job.id)
        return Problem(
            Outcome.UNREADABLE_JOB_ERROR,
            "the job failed for a reason we could not read; it has been logged",
            headers=headers,
            extra=extra,
        )
    extra["code"] = error.code.value
    if error.retcode is not None:
        extra["retcode"] = error.retcode
    return Problem(
        error.code,
        error.message or error.code.value.replace("_", " "),
        headers=headers,
        extra=extra,
    )
