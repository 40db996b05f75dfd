"""The job queue, as the worker sees it: claim, finish, retry.

Every write is conditional on our lease (`lease_owner` and `status = 'running'`):
a worker that lost a job to a rescuer can no longer finish it, it only learns so.
Claiming is one SQL function (`private.claim_job`) for the venues a lane serves (each
job carries its account's venue): queued jobs past their time-to-live cancelled first,
then expired leases, then SKIP LOCKED, the schema's unique index as the guard against
two running jobs of one account.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from switchyard.db import Connection, wrap_exceptions
from switchyard.domain import AccountId, JobError, JobId, JobKind
from switchyard.queries import queries
from worker.ttl import Deadline

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    id: JobId
    user_id: UUID
    #: None once the account was deleted (the job keeps its venue and ends).
    account_id: AccountId | None
    kind: JobKind
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    created_at: datetime
    #: Taken over from a worker whose lease expired: reconcile before sending.
    rescued: bool
    #: `time.monotonic()` just before the claim: the job's lease and deadline count from it.
    claimed_at: float
    #: Its time-to-live as a local deadline (none for jobs without `expires_at`).
    deadline: Deadline

    @classmethod
    def from_row(cls, row: dict[str, Any], claimed_at: float) -> Job:
        return cls(
            id=row["id"],
            user_id=row["user_id"],
            account_id=row["account_id"],
            kind=JobKind(row["kind"]),
            payload=dict(row["payload"]),
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
            created_at=row["created_at"],
            rescued=row["rescued"],
            claimed_at=claimed_at,
            deadline=Deadline.after(claimed_at, row["expires_in_s"]),
        )


class JobQueue:
    """The queue through one autocommit connection (one per thread)."""

    def __init__(self, conn: Connection, owner: str, lease_s: float) -> None:
        self.conn = conn
        self.owner = owner
        self.lease_s = lease_s

    def claim(
        self,
        venues: Collection[str],
        *,
        prefer_account: UUID | None = None,
        fair_wait_s: float | None = None,
        terminal: str | None = None,
    ) -> Job | None:
        """The next job of `venues` (Venue values), leased to us; None when there is none.

        `prefer_account`: the logged-in account's job first, unless another one has a
        higher priority (or, with `fair_wait_s`, has been due that long). `terminal`:
        the claiming terminal (which we must hold): only jobs of servers it serves, none
        of an account another leased terminal is logged in to; it is recorded as logged
        in to the claimed job's account."""
        if isinstance(venues, str):
            raise TypeError("claim takes a collection of venues, not one string")
        started = time.monotonic()
        with wrap_exceptions():
            row = self.conn.execute(
                queries["claim_job"],
                {
                    "owner": self.owner,
                    "lease_s": self.lease_s,
                    "venues": sorted(str(v) for v in venues),
                    "prefer_account": prefer_account,
                    "fair_wait_s": fair_wait_s,
                    "terminal": terminal,
                },
            ).fetchone()
        return None if row is None else Job.from_row(row, started)

    def next_due_in_s(self) -> float | None:
        """Seconds until the next queued job that is not yet due becomes due; None if none."""
        with wrap_exceptions():
            row = self.conn.execute(queries["next_due_in_s"]).fetchone()
        return None if row is None or row["due_in_s"] is None else float(row["due_in_s"])

    def _finish(self, query: str, params: dict[str, Any]) -> bool:
        with wrap_exceptions():
            row = self.conn.execute(queries[query], {**params, "owner": self.owner}).fetchone()
        if row is None:
            log.warning("job %s was no longer ours to %s (lease lost)", params["id"], query)
        return row is not None

    def complete(self, job_id: UUID, result: dict[str, Any]) -> bool:
        return self._finish("complete_job", {"id": job_id, "result": Jsonb(result)})

    def fail(self, job_id: UUID, error: JobError) -> bool:
        error_json = Jsonb(error.model_dump(mode="json"))
        return self._finish("fail_job", {"id": job_id, "error": error_json})

    def cancel(self, job_id: UUID, error: JobError) -> bool:
        return self._finish(
            "cancel_job", {"id": job_id, "error": Jsonb(error.model_dump(mode="json"))}
        )

    def retry(self, job_id: UUID, error: JobError, delay_s: float) -> bool:
        return self._finish(
            "retry_job",
            {"id": job_id, "error": Jsonb(error.model_dump(mode="json")), "delay_s": delay_s},
        )
