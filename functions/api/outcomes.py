"""A finished job as an HTTP answer: the one table from job error codes to statuses.

The worker writes `jobs.error` as a `JobError` (code, message, retcode); the message is
written for the user and never holds a secret, so it becomes the problem's `detail`.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError

from functions.api.problems import Problem
from functions.api.schemas.jobs import JobOut
from functions.core.domain import USER_ERROR_CODES, ErrorCode, JobError, JobStatus

#: Job error code → HTTP status. The user's to fix: 422 with the venue's reason.
JOB_ERROR_STATUS: Final[dict[ErrorCode, int]] = {
    **{code: 422 for code in USER_ERROR_CODES},
    ErrorCode.VENUE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}
#: A cancelled job (its account was deleted, or it was withdrawn) answers this.
CANCELLED_STATUS: Final = 409


def job_problem(row: dict[str, Any]) -> Problem:
    """The answer for a job that ended `failed` or `cancelled`."""
    job = JobOut.from_row(row)
    extra: dict[str, Any] = {"job": job.model_dump(mode="json")}
    headers = {"Location": job.links["self"]}
    if row["status"] == JobStatus.CANCELLED:
        reason = job.error.message if job.error else "it was withdrawn before it ran"
        extra["code"] = job.error.code if job.error else "cancelled"
        return Problem(
            f"the job was cancelled: {reason}",
            status=CANCELLED_STATUS,
            slug="job-cancelled",
            headers=headers,
            extra=extra,
        )
    try:
        error = JobError.model_validate(row["error"])
    except ValidationError:
        return Problem(
            "the job failed for a reason we could not read; it has been logged",
            status=500,
            slug="internal",
            headers=headers,
            extra=extra,
        )
    status = JOB_ERROR_STATUS[error.code]
    extra["code"] = error.code.value
    if error.retcode is not None:
        extra["retcode"] = error.retcode
    if status == 503:
        headers["Retry-After"] = "30"
    return Problem(
        error.message or error.code.value.replace("_", " "),
        status=status,
        slug=error.code.value.replace("_", "-"),
        headers=headers,
        extra=extra,
    )
