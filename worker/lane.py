"""A lane: one thread that claims jobs one at a time and writes back how each ended.

The loop is the same for every lane; what a job means is the subclass's `handle`.
Every accepted job ends succeeded, failed with a reason, or queued again for a retry
(with backoff, up to its `max_attempts`); a database failure mid-job leaves the job
running under a lease that expires, and the job is then rescued and reconciled.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from uuid import UUID

from functions.core.db import Connection, connect
from functions.core.domain import ErrorCode, JobError
from functions.core.errors import DatabaseError
from worker.leases import Holdings, LeaseClock
from worker.outcome import Failed, Outcome, Retry, Succeeded
from worker.queue import Job, JobQueue, Lane
from worker.retry import Backoff
from worker.wakeup import Wakeup

log = logging.getLogger(__name__)

#: Look-ups after an ambiguous send are not capped by max_attempts, but by this many more.
AMBIGUOUS_EXTRA_ATTEMPTS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneDeps:
    """What every lane of one worker process shares."""

    url: str
    owner: str
    holdings: Holdings
    wakeup: Wakeup
    stop: threading.Event
    backoff: Backoff
    lease_s: float
    poll_s: float


class LaneThread(threading.Thread, ABC):
    lane: Lane

    def __init__(self, name: str, deps: LaneDeps) -> None:
        super().__init__(name=name, daemon=True)
        self.url = deps.url
        self.owner = deps.owner
        self.holdings = deps.holdings
        self.wakeup = deps.wakeup
        self.stop = deps.stop
        self.backoff = deps.backoff
        self.lease_s = deps.lease_s
        self.poll_s = deps.poll_s
        self.conn: Connection | None = None
        self.queue: JobQueue | None = None
        #: Set while a job is being handled (SIGTERM waits for it).
        self.busy = threading.Event()

    # -- subclass hooks ---------------------------------------------------------------
    @abstractmethod
    def ready(self) -> bool:
        """Whether the lane may claim now (e.g. holds its terminal)."""

    @abstractmethod
    def handle(self, job: Job, job_lease: LeaseClock) -> Outcome:
        """Run one job; raise DatabaseError to leave it to its lease."""

    def prefer_account(self) -> UUID | None:
        return None

    def fair_wait_s(self) -> float:
        return 0.0

    def started_job(self, job: Job) -> None:
        """Called after a job is claimed (fairness bookkeeping)."""

    def closing(self) -> None:
        """Called once when the loop ends."""

    # -- the loop ---------------------------------------------------------------------
    def _db(self) -> JobQueue:
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.url, autocommit=True, application=f"switchyard-{self.name}")
            self.queue = JobQueue(self.conn, self.owner, self.lease_s)
        assert self.queue is not None
        return self.queue

    def run(self) -> None:
        failures = 0
        try:
            while not self.stop.is_set():
                try:
                    worked = self.step()
                    failures = 0
                except DatabaseError as exc:
                    failures += 1
                    delay = self.backoff.delay_s(failures)
                    log.warning(
                        "%s: database unavailable (%s); again in %.1f s", self.name, exc, delay
                    )
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = None
                    self.stop.wait(delay)
                    continue
                if not worked:
                    self.idle()
        finally:
            self.closing()
            if self.conn is not None:
                self.conn.close()

    def idle(self) -> None:
        """Wait for a notification, the next due job, or the poll interval."""
        generation = self.wakeup.generation()
        timeout = self.poll_s
        if self.ready():
            due = self._db().next_due_in_s()
            if due is not None:
                timeout = min(timeout, max(due, 0.01))
        if not self.stop.is_set():
            self.wakeup.wait(generation, timeout)

    def step(self) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        if not self.ready():
            return False
        queue = self._db()
        claimed_at = time.monotonic()
        job = queue.claim(
            self.lane, prefer_account=self.prefer_account(), fair_wait_s=self.fair_wait_s()
        )
        if job is None:
            return False
        lease = LeaseClock(f"job {job.id}")
        lease.renewed(self.lease_s, claimed_at)
        self.holdings.hold_job(job.id, lease)
        self.busy.set()
        try:
            self.started_job(job)
            if job.rescued:
                log.warning(
                    "job %s (%s) rescued from an expired lease; reconciling first", job.id, job.kind
                )
            outcome = self.handle(job, lease)
            self.finish(queue, job, outcome)
        finally:
            self.holdings.drop_job(job.id)
            self.busy.clear()
        return True

    def finish(self, queue: JobQueue, job: Job, outcome: Outcome) -> None:
        if isinstance(outcome, Succeeded):
            queue.complete(job.id, outcome.result)
        elif isinstance(outcome, Failed):
            log.info("job %s (%s) failed: %s", job.id, job.kind, outcome.error.message)
            queue.fail(job.id, outcome.error)
        else:
            self._retry(queue, job, outcome)

    def _retry(self, queue: JobQueue, job: Job, outcome: Retry) -> None:
        cap = job.max_attempts + (AMBIGUOUS_EXTRA_ATTEMPTS if outcome.ambiguous else 0)
        if job.attempts >= cap:
            if outcome.ambiguous:
                message = (
                    f"the outcome is unknown after {job.attempts} attempts: "
                    f"{outcome.error.message}. Check the account before trading again."
                )
            else:
                message = f"gave up after {job.attempts} attempts: {outcome.error.message}"
            queue.fail(
                job.id,
                JobError(
                    code=ErrorCode.VENUE_UNAVAILABLE, message=message, retcode=outcome.error.retcode
                ),
            )
            return
        delay = self.backoff.delay_s(job.attempts)
        log.info(
            "job %s (%s) will be retried in %.1f s: %s",
            job.id,
            job.kind,
            delay,
            outcome.error.message,
        )
        queue.retry(job.id, outcome.error, delay)
