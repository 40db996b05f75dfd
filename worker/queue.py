"""The job queue, as the worker sees it: claim, finish, retry.

Every write is conditional on our lease (`lease_owner` and `status = 'running'`):
a worker that lost a job to a rescuer can no longer finish it, it only learns so.
Claiming is one SQL function (`private.claim_job`): SKIP LOCKED, expired leases first,
the schema's unique index as the guard against two running jobs of one account.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb

from functions.core.db import Connection, wrap_exceptions
from functions.core.domain import JobError, JobKind
from functions.core.queries import queries

log = logging.getLogger(__name__)

Lane = Literal["mt5", "other"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    id: UUID
    user_id: UUID
    account_id: UUID | None
    kind: JobKind
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    created_at: datetime
    #: Taken over from a worker whose lease expired: reconcile before sending.
    rescued: bool

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
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
        )


class JobQueue:
    """The queue through one autocommit connection (one per thread)."""

    def __init__(self, conn: Connection, owner: str, lease_s: float) -> None:
        self.conn = conn
        self.owner = owner
        self.lease_s = lease_s

    def claim(
        self, lane: Lane, *, prefer_account: UUID | None = None, fair_wait_s: float = 0.0
    ) -> Job | None:
        with wrap_exceptions():
            row = self.conn.execute(
                queries["claim_job"],
                {
                    "owner": self.owner,
                    "lease_s": self.lease_s,
                    "lane": lane,
                    "prefer_account": prefer_account,
                    "fair_wait_s": fair_wait_s,
                },
            ).fetchone()
        return None if row is None else Job.from_row(row)

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

    def retry(self, job_id: UUID, error: JobError, delay_s: float) -> bool:
        return self._finish(
            "retry_job",
            {"id": job_id, "error": Jsonb(error.model_dump(mode="json")), "delay_s": delay_s},
        )
