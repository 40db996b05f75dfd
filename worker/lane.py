"""A lane: one thread that claims jobs one at a time and writes back how each ended.

The loop is the same for every lane: it claims jobs of the venues it serves (`venues`,
matched against `jobs.venue` in SQL); what a job means is the subclass's `handle` (the
trading flow, `worker.trading.dispatch.Flow`, for a lane that serves a venue).
Every accepted job ends succeeded, failed with a reason, cancelled (its time-to-live ran
out), or queued again for a retry (with backoff, up to its `max_attempts`); a database
failure mid-job leaves the job running under a lease that expires, and the job is then
rescued and reconciled.

A lane never dies silently. A handler that raises anything else (a bug) is logged with
its traceback and its job ends as `worker.internal` decides; the lane goes on. If even
that cannot be written back, or the loop itself fails, the thread ends: it drops its
leases from the heartbeat's renewals, and the worker process notices and exits non-zero
so that a supervisor restarts it and the rescuer takes the job over.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from uuid import UUID

from psycopg.pq import TransactionStatus

from switchyard.db import Connection, connect
from switchyard.domain import ErrorCode, JobError, Venue
from switchyard.errors import DatabaseError
from worker.internal import after_bug, effect_possible
from worker.leases import Holdings, LeaseClock
from worker.outcome import Cancelled, Failed, Outcome, Retry, Succeeded, expired
from worker.queue import Job, JobQueue
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
    #: Every statement of a lane's connection ends within this (worker_statement_timeout_s).
    statement_timeout_s: float


class LaneThread(threading.Thread, ABC):
    #: The venues whose jobs this lane claims.
    venues: frozenset[Venue]
    #: How the job errors of this lane name the venue ("the terminal").
    noun: str = "the venue"

    def __init__(self, name: str, deps: LaneDeps) -> None:
        super().__init__(name=name, daemon=True)
        self.url = deps.url
        self.statement_timeout_s = deps.statement_timeout_s
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
        """Run one job; raise DatabaseError to leave it to its lease (anything else is a bug)."""

    def prefer_account(self) -> UUID | None:
        return None

    def fair_wait_s(self) -> float | None:
        """The claim's wait bound on the preference: once another account's job has been
        due this long, it goes first (None: no bound)."""
        return None

    def terminal_address(self) -> str | None:
        """The terminal this lane claims for (its servers and affinity), if any."""
        return None

    def wake_in_s(self) -> float | None:
        """When an idle lane should look again by itself at the latest (None: poll)."""
        return None

    def started_job(self, job: Job) -> None:
        """Called after a job is claimed (scheduling bookkeeping)."""

    def ended_job(self, job: Job, outcome: Outcome) -> None:
        """Called after a job's outcome was written back."""

    def closing(self) -> None:
        """Called once when the loop ends."""

    # -- the loop ---------------------------------------------------------------------
    def _db(self) -> JobQueue:
        if self.conn is None or self.conn.closed:
            self.conn = connect(
                self.url,
                autocommit=True,
                application=f"switchyard-{self.name}",
                statement_timeout_s=self.statement_timeout_s,
            )
            self.queue = JobQueue(self.conn, self.owner, self.lease_s)
        assert self.queue is not None
        return self.queue

    def _drop_connection(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def run(self) -> None:
        failures = 0
        try:
            while not self.stop.is_set():
                # Read before the claim: a job queued after it rings a newer generation,
                # so the wait below cannot sleep through its notification.
                generation = self.wakeup.generation(self.venues)
                try:
                    worked = self.step()
                    failures = 0
                except DatabaseError as exc:
                    failures += 1
                    delay = self.backoff.delay_s(failures)
                    log.warning(
                        "%s: database unavailable (%s); again in %.1f s", self.name, exc, delay
                    )
                    self._drop_connection()
                    self.stop.wait(delay)
                    continue
                if not worked:
                    self.idle(generation)
        except Exception:  # the thread ends here; the worker sees it and exits non-zero
            log.critical(
                "%s: stopped by an unexpected error; the worker exits so that a supervisor "
                "restarts it and its jobs are rescued",
                self.name,
                exc_info=True,
            )
        finally:
            self.closing()
            if self.conn is not None:
                self.conn.close()

    def idle(self, generation: int) -> None:
        """Wait for a notification newer than `generation`, the next due job, or the poll
        interval."""
        timeout = self.poll_s
        if self.ready():
            due = self._db().next_due_in_s()
            if due is not None:
                timeout = min(timeout, max(due, 0.01))
        wake = self.wake_in_s()
        if wake is not None:
            timeout = min(timeout, wake)
        if not self.stop.is_set():
            self.wakeup.wait(generation, timeout, self.venues)

    def step(self) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        if not self.ready():
            return False
        job = self._db().claim(
            self.venues,
            prefer_account=self.prefer_account(),
            fair_wait_s=self.fair_wait_s(),
            terminal=self.terminal_address(),
        )
        if job is None:
            return False
        lease = LeaseClock(f"job {job.id}")
        lease.renewed(self.lease_s, job.claimed_at)
        self.holdings.hold_job(job.id, lease)
        self.busy.set()
        try:
            self.started_job(job)
            if job.rescued:
                log.warning(
                    "job %s (%s) rescued from an expired lease; reconciling first", job.id, job.kind
                )
            outcome = self._outcome(job, lease)
            self._write_back(job, outcome)
            self.ended_job(job, outcome)
        finally:
            self.holdings.drop_job(job.id)
            self.busy.clear()
        return True

    def _outcome(self, job: Job, lease: LeaseClock) -> Outcome:
        try:
            return self.handle(job, lease)
        except DatabaseError:
            raise
        except Exception:  # a bug: logged here, the job still ends, the lane goes on
            log.exception("%s: job %s (%s) raised an unexpected error", self.name, job.id, job.kind)
            self._after_error()
            return after_bug(self._db().conn, job, self.noun)

    def _write_back(self, job: Job, outcome: Outcome) -> None:
        try:
            self.finish(self._db(), job, outcome)
        except DatabaseError:
            raise
        except Exception:  # once more, as an internal error; a second failure ends the lane
            log.exception("%s: job %s (%s) could not be written back", self.name, job.id, job.kind)
            self._after_error()
            self.finish(self._db(), job, after_bug(self._db().conn, job, self.noun))

    def _after_error(self) -> None:
        """A connection left inside a transaction by the failure is replaced."""
        if self.conn is not None and self.conn.info.transaction_status != TransactionStatus.IDLE:
            self._drop_connection()

    def finish(self, queue: JobQueue, job: Job, outcome: Outcome) -> None:
        if isinstance(outcome, Succeeded):
            queue.complete(job.id, outcome.result)
        elif isinstance(outcome, Failed):
            log.info("job %s (%s) failed: %s", job.id, job.kind, outcome.error.message)
            queue.fail(job.id, outcome.error)
        elif isinstance(outcome, Cancelled):
            log.info("job %s (%s) cancelled: %s", job.id, job.kind, outcome.error.message)
            queue.cancel(job.id, outcome.error)
        else:
            self._retry(queue, job, outcome)

    def _retry(self, queue: JobQueue, job: Job, outcome: Retry) -> None:
        # Whatever this attempt hit, an earlier one may have reached the venue: then the
        # next attempt must look it up (the cap and the deadline do not cut that short).
        ambiguous = outcome.ambiguous or effect_possible(queue.conn, job)
        internal = outcome.error.code is ErrorCode.INTERNAL
        extra = AMBIGUOUS_EXTRA_ATTEMPTS if ambiguous and not internal else 0
        if job.attempts >= job.max_attempts + extra:
            if ambiguous:
                message = (
                    f"the outcome is unknown after {job.attempts} attempts: "
                    f"{outcome.error.message}. Check the account before trading again."
                )
            else:
                message = f"gave up after {job.attempts} attempts: {outcome.error.message}"
            code = ErrorCode.INTERNAL if internal else ErrorCode.VENUE_UNAVAILABLE
            queue.fail(job.id, JobError(code=code, message=message, retcode=outcome.error.retcode))
            return
        delay = self.backoff.delay_s(job.attempts)
        if not ambiguous and job.deadline.passed(within_s=delay):
            cancelled = expired(f"before it could be tried again ({outcome.error.message})")
            log.info("job %s (%s) cancelled: %s", job.id, job.kind, cancelled.error.message)
            queue.cancel(job.id, cancelled.error)
            return
        log.info(
            "job %s (%s) will be retried in %.1f s: %s",
            job.id,
            job.kind,
            delay,
            outcome.error.message,
        )
        queue.retry(job.id, outcome.error, delay)
