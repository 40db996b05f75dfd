"""Scheduled work as queries: due syncs and re-verifications become ordinary jobs.

Accounts get their next_sync_at / next_verify_at spread over the interval (a phase
from the account id), so the queue sees a steady trickle, not a herd at each tick.
Several workers may run this at once: `FOR UPDATE SKIP LOCKED` plus moving the
account's next time in the same statement queue each due job once. Each tick also ends
queued jobs whose time-to-live ran out (the claim does too, but a job waiting behind a
busy lane, or for a terminal no worker serves, must not wait for a claim to say so),
fails queued MT5 jobs of a broker server that no known terminal serves, and prunes a batch
of the event log past its retention (`private.event_retention`).

The schedule cannot make terminals faster: an MT5 sync costs a login, so with 1 s logins
one terminal syncs at most ~300 accounts per 5 minutes. When they cannot keep up, the
queued syncs wait behind trades (lower priority) and each account is synced less often.
That effective interval is measured, not hidden: every `status_every_s` the scheduler
writes it per venue to `private.sync_status` and logs a warning while it exceeds the
configured interval by more than a quarter.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from switchyard.db import Connection, connect, wrap_exceptions
from switchyard.errors import DatabaseError
from switchyard.queries import queries
from worker.retry import Backoff

log = logging.getLogger(__name__)

BATCH = 500
#: Event-log rows deleted per tick at most (the rest waits for the next tick).
PRUNE_BATCH = 5000


def tick(conn: Connection, *, sync_interval_s: float, verify_interval_s: float) -> tuple[int, int]:
    """One pass: (sync jobs queued, verify jobs queued)."""
    intervals = {"sync_interval_s": sync_interval_s, "verify_interval_s": verify_interval_s}
    with wrap_exceptions(), conn.transaction():
        conn.execute(queries["spread_new_schedules"], intervals)
        syncs = conn.execute(
            queries["schedule_syncs"], {"interval_s": sync_interval_s, "batch": BATCH}
        ).fetchall()
        verifies = conn.execute(
            queries["schedule_verifications"], {"interval_s": verify_interval_s, "batch": BATCH}
        ).fetchall()
    return len(syncs), len(verifies)


#: How often the effective sync interval is measured, by default.
STATUS_EVERY_S = 30.0
#: A warning is logged while the effective interval exceeds the configured one this much.
BEHIND_FACTOR = 1.25


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStatus:
    venue: str
    accounts: int
    synced_in_window: int
    #: None: no account was synced in the window.
    effective_interval_s: float | None
    backlog: int


def measure_sync_status(
    conn: Connection, *, sync_interval_s: float, window_s: float | None = None
) -> list[SyncStatus]:
    """Measure (and store in private.sync_status) how often accounts are really synced:
    the accounts synced in the last `window_s` (default: the interval, at most 60 s)."""
    window = window_s if window_s is not None else min(sync_interval_s, 60.0)
    with wrap_exceptions():
        rows = conn.execute(
            queries["measure_sync_status"], {"interval_s": sync_interval_s, "window_s": window}
        ).fetchall()
    return [
        SyncStatus(
            venue=row["venue"],
            accounts=row["accounts"],
            synced_in_window=row["synced_in_window"],
            effective_interval_s=row["effective_interval_s"],
            backlog=row["backlog"],
        )
        for row in rows
    ]


def report_sync_status(statuses: list[SyncStatus], sync_interval_s: float) -> None:
    for status in statuses:
        effective = status.effective_interval_s
        if status.backlog == 0 and (effective is None or effective <= sync_interval_s):
            continue
        if effective is None or effective > sync_interval_s * BEHIND_FACTOR:
            shown = (
                "no account was synced lately"
                if effective is None
                else (f"each account is synced about every {effective:.0f} s")
            )
            log.warning(
                "%s syncs fall behind: %s, not every %.0f s (%d accounts, %d syncs queued); "
                "add terminals or lengthen SWITCHYARD_SYNC_INTERVAL_S",
                status.venue,
                shown,
                sync_interval_s,
                status.accounts,
                status.backlog,
            )


def fail_unserved(conn: Connection) -> int:
    """Fail queued MT5 jobs of servers no known terminal serves; how many."""
    with wrap_exceptions():
        row = conn.execute(queries["fail_unserved_jobs"]).fetchone()
    return 0 if row is None else int(row["failed"])


def expire(conn: Connection) -> int:
    """Cancel queued jobs past their time-to-live (`expired`); how many."""
    with wrap_exceptions():
        row = conn.execute(queries["expire_jobs"]).fetchone()
    return 0 if row is None else int(row["expired"])


def prune_events(conn: Connection, batch: int = PRUNE_BATCH) -> int:
    """Delete a batch of event-log rows past their retention; how many."""
    with wrap_exceptions():
        row = conn.execute(queries["prune_events"], {"batch": batch}).fetchone()
    return 0 if row is None else int(row["pruned"])


class Scheduler(threading.Thread):
    def __init__(
        self,
        url: str,
        *,
        sync_interval_s: float,
        verify_interval_s: float,
        tick_s: float,
        stop: threading.Event,
        backoff: Backoff,
        status_every_s: float = STATUS_EVERY_S,
        statement_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(name="switchyard-scheduler", daemon=True)
        self.status_every_s = status_every_s
        self.statement_timeout_s = statement_timeout_s
        self._next_status = time.monotonic() + min(status_every_s, tick_s)
        self.url = url
        self.sync_interval_s = sync_interval_s
        self.verify_interval_s = verify_interval_s
        self.tick_s = tick_s
        self.stop = stop
        self.backoff = backoff
        #: Set to run a pass now (a newly verified account needs its first sync).
        self.nudge = threading.Event()

    def run(self) -> None:
        conn: Connection | None = None
        failures = 0
        while not self.stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = connect(
                        self.url,
                        autocommit=True,
                        application="switchyard-scheduler",
                        statement_timeout_s=self.statement_timeout_s,
                    )
                syncs, verifies = tick(
                    conn,
                    sync_interval_s=self.sync_interval_s,
                    verify_interval_s=self.verify_interval_s,
                )
                expired = expire(conn)
                unserved = fail_unserved(conn)
                pruned = prune_events(conn)
                if time.monotonic() >= self._next_status:
                    self._next_status = time.monotonic() + self.status_every_s
                    statuses = measure_sync_status(conn, sync_interval_s=self.sync_interval_s)
                    report_sync_status(statuses, self.sync_interval_s)
                failures = 0
                if unserved:
                    log.info("failed %d queued job(s) of servers no terminal serves", unserved)
                if syncs or verifies:
                    log.info("scheduled %d sync and %d verify job(s)", syncs, verifies)
                if expired:
                    log.info("cancelled %d queued job(s) past their time-to-live", expired)
                if pruned:
                    log.info("pruned %d event(s) past their retention", pruned)
                wait_s = self.tick_s
            except DatabaseError as exc:
                failures += 1
                wait_s = self.backoff.delay_s(failures)
                log.warning("scheduler: database unavailable (%s); again in %.1f s", exc, wait_s)
                if conn is not None:
                    conn.close()
                conn = None
            self.nudge.wait(wait_s)
            self.nudge.clear()
        if conn is not None:
            conn.close()
