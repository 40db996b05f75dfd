"""A claimed job through the flow: its account, its payload, its handler, and what the
venue's errors mean for the job and the account.

Every venue's lane hands its jobs here (`Flow.handle`); the venue itself is the
`VenueAdapter` the flow was built with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from switchyard.db import Connection
from switchyard.domain import PAYLOAD_MODELS, ErrorCode, JobKind, parse_payload
from switchyard.errors import (
    AmbiguousOutcome,
    CredentialsRejected,
    LeaseLost,
    UndecryptableSecret,
    VenueUnavailable,
    WrongAccount,
)
from worker.invalid import describe
from worker.leases import SEND_MARGIN_S, LeaseClock
from worker.outcome import Outcome, Succeeded, failed, retry
from worker.queue import Job
from worker.trading import account_jobs, changes, orders, records, signals
from worker.trading.context import JobContext
from worker.trading.journal import Journal
from worker.venue import VenueAdapter

log = logging.getLogger(__name__)

Handler = Callable[[JobContext, Any], Outcome]

HANDLERS: dict[JobKind, Handler] = {
    JobKind.VERIFY: lambda ctx, _: account_jobs.run_verify(ctx),
    JobKind.SWITCH: lambda ctx, _: account_jobs.run_switch(ctx),
    JobKind.SYNC: lambda ctx, _: account_jobs.run_sync(ctx),
    JobKind.ORDER: orders.run_order,
    JobKind.CLOSE: orders.run_close,
    JobKind.MODIFY: changes.run_modify,
    JobKind.CANCEL: changes.run_cancel,
    JobKind.SIGNAL: signals.run_signal,
}

#: Why an account whose credentials cannot be decrypted is failed (pending) or disabled.
UNDECRYPTABLE = (
    "the stored credentials can no longer be decrypted (the key that encrypted them was "
    "removed, or they were altered): re-enter the credentials to use this account"
)


class Flow:
    """The trading flow on one venue."""

    def __init__(
        self,
        venue: VenueAdapter,
        *,
        verify_interval_s: float,
        on_verified: Callable[[], None],
    ) -> None:
        self.venue = venue
        self.verify_interval_s = verify_interval_s
        self.on_verified = on_verified
        #: A send needs the venue's call timeout plus a margin of lease left.
        self.send_margin_s = venue.call_timeout_s + SEND_MARGIN_S

    def handle(self, conn: Connection, job: Job, job_lease: LeaseClock) -> Outcome:
        """One job; raises DatabaseError to leave it to its lease."""
        account = records.load_account(conn, job.account_id) if job.account_id else None
        if account is None:
            return failed(ErrorCode.ACCOUNT_UNAVAILABLE, "the account no longer exists")
        if job.kind is not JobKind.VERIFY:
            if not account.is_active:
                return failed(ErrorCode.ACCOUNT_UNAVAILABLE, "the account is switched off")
            if account.status != "verified":
                return failed(
                    ErrorCode.ACCOUNT_UNAVAILABLE, f"the account is {account.status}, not verified"
                )
        try:
            payload = parse_payload(job.kind, job.payload)
        except ValidationError as exc:
            problems = describe(exc, PAYLOAD_MODELS[job.kind])
            return failed(ErrorCode.INVALID_REQUEST, f"the job's payload is invalid: {problems}")
        ctx = JobContext(
            conn=conn,
            journal=Journal(conn),
            job=job,
            account=account,
            venue=self.venue,
            job_lease=job_lease,
            send_margin_s=self.send_margin_s,
            verify_interval_s=self.verify_interval_s,
        )
        outcome = self._run(ctx, payload)
        if job.kind is JobKind.VERIFY and isinstance(outcome, Succeeded):
            self.on_verified()
        return outcome

    def _run(self, ctx: JobContext, payload: object) -> Outcome:
        try:
            return HANDLERS[ctx.job.kind](ctx, payload)
        except CredentialsRejected as exc:
            status = records.mark_rejected(ctx.conn, ctx.account, str(exc))
            return failed(ErrorCode.CREDENTIALS_REJECTED, f"{exc}; the account is now {status}")
        except UndecryptableSecret as exc:
            log.warning("job %s: %s", ctx.job.id, exc)  # names the setting, for the operator
            status = records.mark_rejected(ctx.conn, ctx.account, UNDECRYPTABLE)
            return failed(
                ErrorCode.ACCOUNT_UNAVAILABLE, f"{UNDECRYPTABLE}; the account is now {status}"
            )
        except LeaseLost as exc:
            return retry(ErrorCode.VENUE_UNAVAILABLE, str(exc))
        except (AmbiguousOutcome, WrongAccount, VenueUnavailable) as exc:
            # Raised before any order was sent (a send's own doubt is its verdict).
            return retry(ErrorCode.VENUE_UNAVAILABLE, str(exc))
