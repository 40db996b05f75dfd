"""How a job ended this attempt: what the lane writes back to the job row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchyard.domain import ErrorCode, JobError


@dataclass(frozen=True, slots=True)
class Succeeded:
    """Done; `result` is a Fill or AccountSnapshot as JSON."""

    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Failed:
    """Ended without effect (or with the effect the message names)."""

    error: JobError


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again later. `ambiguous`: something may have happened; the next attempt must
    look it up before sending anything, and the attempt cap does not apply to look-ups."""

    error: JobError
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class Cancelled:
    """Ended without effect before it was sent (its time-to-live ran out)."""

    error: JobError


Outcome = Succeeded | Failed | Retry | Cancelled


def failed(code: ErrorCode, message: str, retcode: int | None = None) -> Failed:
    return Failed(JobError(code=code, message=message, retcode=retcode))


def retry(code: ErrorCode, message: str, *, ambiguous: bool = False) -> Retry:
    return Retry(JobError(code=code, message=message), ambiguous=ambiguous)


def expired(why: str) -> Cancelled:
    """The job's time-to-live ran out `why` (e.g. "before the order could be sent")."""
    return Cancelled(
        JobError(
            code=ErrorCode.EXPIRED, message=f"its time-to-live ran out {why}; nothing was sent"
        )
    )
