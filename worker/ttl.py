"""A trade job's time-to-live, as a local deadline.

The database says how long a claimed job has left (`claim_job`'s `expires_in_s`, from
its own clock); the worker adds that to its monotonic clock as read just before the
claim, so the deadline is never later than the database's and no two clocks need to
agree. It is checked before a login and again right before anything is sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Deadline:
    """A monotonic deadline (`time.monotonic()` seconds); `at=None`: there is none."""

    at: float | None = None

    @classmethod
    def after(cls, start: float, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else start + seconds)

    def remaining_s(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def passed(self, within_s: float = 0.0) -> bool:
        """Whether the deadline is reached now, or will be within `within_s` seconds."""
        return self.at is not None and time.monotonic() + within_s >= self.at
