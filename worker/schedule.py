"""Scheduled work as queries: due syncs and re-verifications become ordinary jobs.

Accounts get their next_sync_at / next_verify_at spread over the interval (a phase
from the account id), so the queue sees a steady trickle, not a herd at each tick.
Several workers may run this at once: `FOR UPDATE SKIP LOCKED` plus moving the
account's next time in the same statement queue each due job once.
"""

from __future__ import annotations

import logging
import threading

from functions.core.db import Connection, connect, wrap_exceptions
from functions.core.errors import DatabaseError
from functions.core.queries import queries
from worker.retry import Backoff

log = logging.getLogger(__name__)

BATCH = 500


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
    ) -> None:
        super().__init__(name="switchyard-scheduler", daemon=True)
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
                    conn = connect(self.url, autocommit=True, application="switchyard-scheduler")
                syncs, verifies = tick(
                    conn,
                    sync_interval_s=self.sync_interval_s,
                    verify_interval_s=self.verify_interval_s,
                )
                failures = 0
                if syncs or verifies:
                    log.info("scheduled %d sync and %d verify job(s)", syncs, verifies)
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
