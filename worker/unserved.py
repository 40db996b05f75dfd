"""The lane for jobs no terminal serves: exchange accounts (not in this milestone) and
jobs whose account is gone. They are failed with a clear reason, never left queued."""

from __future__ import annotations

from functions.core.domain import ErrorCode
from worker import accounts
from worker.lane import LaneThread
from worker.leases import LeaseClock
from worker.outcome import Outcome, failed
from worker.queue import Job

EXCHANGE_NOT_SERVED = (
    "exchange accounts are not served by this worker yet: only MetaTrader 5 accounts are"
)


class UnservedLane(LaneThread):
    lane = "other"

    def ready(self) -> bool:
        return True

    def handle(self, job: Job, job_lease: LeaseClock) -> Outcome:
        row = accounts.load_account(self._db().conn, job.account_id) if job.account_id else None
        if row is None:
            return failed(ErrorCode.ACCOUNT_UNAVAILABLE, "the account no longer exists")
        return failed(ErrorCode.VENUE_UNAVAILABLE, EXCHANGE_NOT_SERVED)
