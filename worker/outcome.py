"""How a job ended this attempt: what the lane writes back to the job row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.core.domain import ErrorCode, JobError


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


Outcome = Succeeded | Failed | Retry


def failed(code: ErrorCode, message: str, retcode: int | None = None) -> Failed:
    return Failed(JobError(code=code, message=message, retcode=retcode))


def retry(code: ErrorCode, message: str, *, ambiguous: bool = False) -> Retry:
    return Retry(JobError(code=code, message=message), ambiguous=ambiguous)
