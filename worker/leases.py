"""Local deadlines of what this worker holds in the database: job and terminal leases.

The database is the truth, but a worker must not act on a lease it may have lost:
each lease has a local monotonic deadline, pushed forward only by a heartbeat the
database confirmed, and checked before anything with an effect is sent (fencing by
time: a lease is used only while more than the call's own timeout remains).
"""

from __future__ import annotations

import threading
import time
from typing import Final

from switchyard.errors import LeaseLost

#: A lease is used for a venue call only while it lasts the call's timeout plus this much.
SEND_MARGIN_S: Final = 1.0


class LeaseClock:
    """The deadline of one lease, renewed by the heartbeat, read by a lane."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self._deadline = 0.0

    def renewed(self, lease_s: float, at: float | None = None) -> None:
        """The database confirmed `lease_s` more seconds, counted from `at` (before the call)."""
        start = time.monotonic() if at is None else at
        with self._lock:
            self._deadline = max(self._deadline, start + lease_s)

    def lost(self) -> None:
        with self._lock:
            self._deadline = 0.0

    def remaining_s(self) -> float:
        with self._lock:
            return self._deadline - time.monotonic()

    def require(self, at_least_s: float) -> None:
        """Raise LeaseLost unless the lease lasts `at_least_s` more seconds."""
        remaining = self.remaining_s()
        if remaining < at_least_s:
            raise LeaseLost(
                f"the lease on {self.what} has {max(remaining, 0):.1f} s left, "
                f"{at_least_s:.1f} s needed: not acting on it"
            )


class Holdings:
    """Every lease this process holds, by job id and terminal address (for the heartbeat).

    A lane registers a job when it claims it and drops it when the job is written back or
    the lane's thread ends (a `finally`): the heartbeat renews only what is registered, so
    the job of a lane that died is no longer renewed and another worker rescues it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: clock and the monotonic time it was registered
        self._jobs: dict[object, tuple[LeaseClock, float]] = {}
        self._terminals: dict[str, tuple[LeaseClock, float]] = {}

    def hold_job(self, job_id: object, clock: LeaseClock) -> None:
        with self._lock:
            self._jobs[job_id] = (clock, time.monotonic())

    def drop_job(self, job_id: object) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def hold_terminal(self, address: str, clock: LeaseClock) -> None:
        with self._lock:
            self._terminals[address] = (clock, time.monotonic())

    def drop_terminal(self, address: str) -> None:
        with self._lock:
            self._terminals.pop(address, None)

    def held(self) -> tuple[list[object], list[str]]:
        """The job ids and terminal addresses to renew."""
        with self._lock:
            return list(self._jobs), list(self._terminals)

    def renewed(self, job_ids: set[object], addresses: set[str], lease_s: float, at: float) -> None:
        """After a heartbeat that started at `at`: confirmed leases move on, the others
        (held since before the beat began) are lost."""
        with self._lock:
            for held, confirmed in ((self._jobs, job_ids), (self._terminals, addresses)):
                for key, (clock, since) in held.items():
                    if key in confirmed:
                        clock.renewed(lease_s, at)
                    elif since < at:
                        clock.lost()
