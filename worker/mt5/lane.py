"""An MT5 lane: one terminal, leased in the database, serving jobs of MT5 accounts serially.

It prefers jobs of the account the terminal is logged in to (fewer logins for the
same work) but never more than `fair_streak` in a row, and never over another
account's job that was due more than `fair_wait_s` earlier (checked by the claim).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from functions.core.db import wrap_exceptions
from functions.core.domain import (
    CancelPayload,
    ClosePayload,
    ErrorCode,
    JobKind,
    ModifyPayload,
    OrderPayload,
    parse_payload,
)
from functions.core.errors import DatabaseError, UndecryptableSecret
from functions.core.queries import queries
from functions.core.vault import Vault
from worker import accounts
from worker.errors import (
    AmbiguousOutcome,
    CredentialsRejected,
    LeaseLost,
    TerminalUnavailable,
    WrongAccount,
)
from worker.journal import Journal
from worker.lane import LaneDeps, LaneThread
from worker.leases import LeaseClock
from worker.mt5 import account_jobs, trading
from worker.mt5.bridge import Bridge
from worker.mt5.context import Mt5Context
from worker.mt5.session import Mt5Account, Session
from worker.outcome import Outcome, Succeeded, failed, retry
from worker.queue import Job

log = logging.getLogger(__name__)

Handler = Callable[[Mt5Context, Job, Mt5Account, Any], Outcome]

_HANDLERS: dict[JobKind, Handler] = {
    JobKind.VERIFY: lambda ctx, job, acc, _: account_jobs.run_verify(ctx, job, acc),
    JobKind.SWITCH: lambda ctx, job, acc, _: account_jobs.run_switch(ctx, job, acc),
    JobKind.SYNC: lambda ctx, job, acc, _: account_jobs.run_sync(ctx, job, acc),
    JobKind.ORDER: trading.run_order,
    JobKind.CLOSE: trading.run_close,
    JobKind.MODIFY: trading.run_modify,
    JobKind.CANCEL: trading.run_cancel,
}
_PAYLOAD_TYPES = {
    JobKind.ORDER: OrderPayload,
    JobKind.CLOSE: ClosePayload,
    JobKind.MODIFY: ModifyPayload,
    JobKind.CANCEL: CancelPayload,
}


#: A send needs the call timeout plus this much lease left (job and terminal).
SEND_MARGIN_S = 1.0


class Mt5Lane(LaneThread):
    lane = "mt5"

    def __init__(
        self,
        address: str,
        *,
        vault: Vault,
        magic: int,
        call_timeout_s: float,
        login_timeout_s: float,
        fair_wait_s: float,
        fair_streak: int,
        verify_interval_s: float,
        on_verified: Callable[[], None],
        deps: LaneDeps,
    ) -> None:
        super().__init__(f"mt5-lane[{address}]", deps)
        self.address = address
        self.magic = magic
        self._fair_wait_s = fair_wait_s
        self.fair_streak = fair_streak
        self.verify_interval_s = verify_interval_s
        self.on_verified = on_verified
        self.send_margin_s = call_timeout_s + SEND_MARGIN_S
        self.terminal_lease = LeaseClock(f"terminal {address}")
        self.session = Session(
            Bridge(address, call_timeout_s=call_timeout_s, login_timeout_s=login_timeout_s),
            vault,
            self.terminal_lease,
            send_margin_s=self.send_margin_s,
        )
        self._streak_account: UUID | None = None
        self._streak = 0
        self._next_acquire = 0.0
        self._recorded_login: UUID | None = None
        self.holds_terminal = threading.Event()

    # -- the terminal lease -----------------------------------------------------------
    def ready(self) -> bool:
        if self.terminal_lease.remaining_s() > self.send_margin_s:
            return True
        self.holds_terminal.clear()
        if time.monotonic() < self._next_acquire:
            return False
        self._next_acquire = time.monotonic() + self.poll_s
        conn = self._db().conn
        started = time.monotonic()
        with wrap_exceptions():
            row = conn.execute(
                queries["acquire_terminal"],
                {"address": self.address, "owner": self.owner, "lease_s": self.lease_s},
            ).fetchone()
        if row is None:
            return False
        self.terminal_lease.renewed(self.lease_s, started)
        self.holdings.hold_terminal(self.address, self.terminal_lease)
        self.session.logged_in = row["logged_in_account"]
        self._recorded_login = row["logged_in_account"]
        self.holds_terminal.set()
        log.info("%s: terminal leased", self.name)
        return True

    def closing(self) -> None:
        self.session.bridge.close()
        self.holdings.drop_terminal(self.address)
        if self.conn is not None and not self.conn.closed and self.holds_terminal.is_set():
            try:
                with wrap_exceptions():
                    self.conn.execute(
                        queries["release_terminal"], {"address": self.address, "owner": self.owner}
                    )
            except DatabaseError:  # shutting down: the lease simply runs out
                log.warning("%s: terminal lease not released; it ends by itself", self.name)
        self.holds_terminal.clear()

    # -- fairness ---------------------------------------------------------------------
    def prefer_account(self) -> UUID | None:
        logged_in = self.session.logged_in
        if logged_in is None or (
            logged_in == self._streak_account and self._streak >= self.fair_streak
        ):
            return None
        return logged_in

    def fair_wait_s(self) -> float:
        return self._fair_wait_s

    def started_job(self, job: Job) -> None:
        if job.account_id == self._streak_account:
            self._streak += 1
        else:
            self._streak_account, self._streak = job.account_id, 1

    # -- one job ----------------------------------------------------------------------
    def handle(self, job: Job, job_lease: LeaseClock) -> Outcome:
        queue = self._db()
        row = accounts.load_account(queue.conn, job.account_id) if job.account_id else None
        if row is None:
            return failed(ErrorCode.ACCOUNT_UNAVAILABLE, "the account no longer exists")
        account = accounts.mt5_account(row)
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
            return failed(ErrorCode.INVALID_REQUEST, f"the job's payload is invalid: {exc}")
        ctx = Mt5Context(
            conn=queue.conn,
            session=self.session,
            journal=Journal(queue.conn),
            job_lease=job_lease,
            magic=self.magic,
            send_margin_s=self.send_margin_s,
            verify_interval_s=self.verify_interval_s,
        )
        outcome = self._run(ctx, job, account, payload)
        self._record_login()
        if job.kind is JobKind.VERIFY and isinstance(outcome, Succeeded):
            self.on_verified()
        return outcome

    def _run(self, ctx: Mt5Context, job: Job, account: Mt5Account, payload: object) -> Outcome:
        try:
            return _HANDLERS[job.kind](ctx, job, account, payload)
        except CredentialsRejected as exc:
            status = accounts.mark_rejected(ctx.conn, account, str(exc))
            return failed(ErrorCode.CREDENTIALS_REJECTED, f"{exc}; the account is now {status}")
        except UndecryptableSecret as exc:
            return failed(
                ErrorCode.ACCOUNT_UNAVAILABLE, f"{exc}; connect the account again with its password"
            )
        except LeaseLost as exc:
            return retry(ErrorCode.VENUE_UNAVAILABLE, str(exc))
        except (AmbiguousOutcome, WrongAccount, TerminalUnavailable) as exc:
            # Raised before any order was sent (a send's own doubt is an outcome).
            return retry(ErrorCode.VENUE_UNAVAILABLE, str(exc))

    def _record_login(self) -> None:
        if self.session.logged_in == self._recorded_login or self.conn is None:
            return
        with wrap_exceptions():
            self.conn.execute(
                queries["terminal_logged_in"],
                {
                    "address": self.address,
                    "owner": self.owner,
                    "account_id": self.session.logged_in,
                },
            )
        self._recorded_login = self.session.logged_in
