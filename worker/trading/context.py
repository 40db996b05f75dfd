"""What a job's handler in the flow works with: the job, its account, the venue, the journal."""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.db import Connection
from switchyard.domain import ClientOrderId, client_order_id
from worker.leases import LeaseClock
from worker.queue import Job
from worker.trading.journal import Journal
from worker.ttl import Deadline
from worker.venue import Account, VenueAdapter


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext:
    conn: Connection
    journal: Journal
    job: Job
    account: Account
    venue: VenueAdapter
    #: The lease of the job being handled: checked before anything is sent.
    job_lease: LeaseClock
    #: Remaining lease needed to send: the venue's call timeout and a margin.
    send_margin_s: float
    verify_interval_s: float

    @property
    def coid(self) -> ClientOrderId:
        """Ours, derived from the job: what the venue is told and asked about."""
        return client_order_id(self.job.id)

    @property
    def deadline(self) -> Deadline:
        """The job's time-to-live: checked before a login and right before a send."""
        return self.job.deadline
