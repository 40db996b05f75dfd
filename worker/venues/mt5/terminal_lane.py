"""An MT5 lane: one terminal, leased in the database, serving jobs of MT5 accounts serially.

The lane owns what is particular to a terminal: its lease (no claim without it), the
broker servers it serves (the claim gives it no job of another server), the login it
found the terminal on, and how it orders work to save logins:

* **Drain under a time bound.** Once the lane starts on an account, it keeps taking that
  account's due jobs (no login between them) for `drain_s` whoever waits; after that it
  goes on with them only until a job of another account (that it may take) has been due
  for `drain_s`, and then the best due job by priority and age goes next. So no job waits
  more than `drain_s` + the job in hand + its own login for another account's drain, and
  a job of higher priority (a trade, over a sync) is never kept behind one at all
  (checked by the claim). A lane that ran out of work starts a fresh drain with the next
  job of the account it is on.
* **Affinity.** The claim records the claimed job's account as this terminal's login
  hint, and other lanes leave that account's jobs to this one while it holds its lease.
* **Syncs ride on logins.** After other work on an account, its sync is queued at once
  when its last one is half an interval old or more; it runs next, without a login of its
  own, unless something more urgent waits.

What a job means is the flow's (`worker.trading.dispatch.Flow`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from uuid import UUID

from switchyard.db import wrap_exceptions
from switchyard.domain import JobKind, Venue
from switchyard.errors import DatabaseError
from switchyard.queries import queries
from switchyard.settings import Settings, terminal_spec
from switchyard.vault import Vault
from worker.lane import LaneDeps, LaneThread
from worker.leases import SEND_MARGIN_S, LeaseClock
from worker.outcome import Outcome, Retry
from worker.queue import Job
from worker.trading.dispatch import Flow
from worker.venues.mt5.adapter import Mt5Venue
from worker.venues.mt5.bridge import Bridge
from worker.venues.mt5.terminal import TerminalSession

log = logging.getLogger(__name__)


class TerminalLane(LaneThread):
    venues = frozenset({Venue.MT5})
    noun = "the terminal"

    def __init__(
        self,
        address: str,
        *,
        servers: tuple[str, ...] | None = None,
        vault: Vault,
        magic: int,
        call_timeout_s: float,
        login_timeout_s: float,
        drain_s: float,
        sync_interval_s: float,
        verify_interval_s: float,
        on_verified: Callable[[], None],
        deps: LaneDeps,
    ) -> None:
        super().__init__(f"mt5-lane[{address}]", deps)
        self.address = address
        #: The broker servers this terminal can log in to (None: any).
        self.servers = servers
        self.drain_s = drain_s
        self.sync_interval_s = sync_interval_s
        self.send_margin_s = call_timeout_s + SEND_MARGIN_S
        self.terminal_lease = LeaseClock(f"terminal {address}")
        self.terminal = TerminalSession(
            Bridge(address, call_timeout_s=call_timeout_s, login_timeout_s=login_timeout_s),
            vault,
            self.terminal_lease,
            send_margin_s=self.send_margin_s,
        )
        self.flow = Flow(
            Mt5Venue(self.terminal, magic=magic, call_timeout_s=call_timeout_s),
            verify_interval_s=verify_interval_s,
            on_verified=on_verified,
        )
        #: The account being drained and when its drain began (monotonic).
        self._drain_account: UUID | None = None
        self._drain_started = 0.0
        self._next_acquire = 0.0
        self._recorded_login: UUID | None = None
        self.holds_terminal = threading.Event()

    @classmethod
    def configured(
        cls,
        entry: str,
        settings: Settings,
        *,
        vault: Vault,
        on_verified: Callable[[], None],
        deps: LaneDeps,
    ) -> TerminalLane:
        """The lane of one SWITCHYARD_MT5_TERMINALS entry (`host:port[=servers]`)."""
        address, servers = terminal_spec(entry)
        return cls(
            address,
            servers=servers,
            vault=vault,
            magic=settings.mt5_magic,
            call_timeout_s=settings.mt5_call_timeout_s,
            login_timeout_s=settings.mt5_login_timeout_s,
            drain_s=settings.worker_drain_s,
            sync_interval_s=settings.sync_interval_s,
            verify_interval_s=settings.verify_interval_s,
            on_verified=on_verified,
            deps=deps,
        )

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
                {
                    "address": self.address,
                    "owner": self.owner,
                    "lease_s": self.lease_s,
                    "servers": None if self.servers is None else list(self.servers),
                },
            ).fetchone()
        if row is None or not row["acquired"]:
            # Held by another worker: try again as its lease ends (it may have died).
            retry_s = self.poll_s if row is None else float(row["retry_in_s"]) + 0.05
            self._next_acquire = time.monotonic() + min(self.poll_s, retry_s)
            return False
        self.terminal_lease.renewed(self.lease_s, started)
        self.holdings.hold_terminal(self.address, self.terminal_lease)
        self.terminal.logged_in = row["logged_in_account"]
        self._recorded_login = row["logged_in_account"]
        self.holds_terminal.set()
        log.info("%s: terminal leased", self.name)
        return True

    def closing(self) -> None:
        self.terminal.bridge.close()
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

    # -- scheduling -------------------------------------------------------------------
    def terminal_address(self) -> str:
        return self.address

    def prefer_account(self) -> UUID | None:
        return self.terminal.logged_in

    def fair_wait_s(self) -> float | None:
        """None while draining (the logged-in account first, whoever waits); once the
        drain is over, `drain_s`: a job of another account due that long goes first."""
        logged_in = self.terminal.logged_in
        if (
            logged_in is not None
            and logged_in == self._drain_account
            and (time.monotonic() - self._drain_started >= self.drain_s)
        ):
            return self.drain_s
        return None

    def started_job(self, job: Job) -> None:
        # The claim recorded this account as the terminal's login (the hint).
        self._recorded_login = job.account_id
        if job.account_id != self._drain_account:
            self._drain_account, self._drain_started = job.account_id, job.claimed_at

    def wake_in_s(self) -> float | None:
        if self.terminal_lease.remaining_s() > self.send_margin_s:
            return None
        return max(self._next_acquire - time.monotonic(), 0.01)

    def idle(self, generation: int) -> None:
        self._drain_account = None  # out of work: the next job starts a fresh drain
        super().idle(generation)

    def ended_job(self, job: Job, outcome: Outcome) -> None:
        if isinstance(outcome, Retry):
            # Whatever state the terminal is in, the next job finds out: the hint of
            # this account (which keeps its jobs on this lane) is dropped.
            self.terminal.logged_in = None
        self._record_login()
        if (
            job.kind is not JobKind.SYNC
            and job.account_id is not None
            and self.terminal.logged_in == job.account_id
            and self.conn is not None
        ):
            with wrap_exceptions():
                self.conn.execute(
                    queries["ride_sync"],
                    {"account_id": job.account_id, "interval_s": self.sync_interval_s},
                )

    # -- one job ----------------------------------------------------------------------
    def handle(self, job: Job, job_lease: LeaseClock) -> Outcome:
        return self.flow.handle(self._db().conn, job, job_lease)

    def _record_login(self) -> None:
        if self.terminal.logged_in == self._recorded_login or self.conn is None:
            return
        with wrap_exceptions():
            self.conn.execute(
                queries["terminal_logged_in"],
                {
                    "address": self.address,
                    "owner": self.owner,
                    "account_id": self.terminal.logged_in,
                },
            )
        self._recorded_login = self.terminal.logged_in
