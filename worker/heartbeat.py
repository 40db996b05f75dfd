"""The heartbeat: renews this worker's job and terminal leases and its registry row.

One thread, one connection. Each beat renews, by job id and terminal address, only
the leases that lanes hold right now (never "every job with our name on it": a lane
that died must not keep its job running forever), and only then moves their local deadlines
(measured from before the query); a lease the database did not confirm is lost at
once, so a lane stops acting on it.
"""

from __future__ import annotations

import logging
import threading
import time

from switchyard.db import Connection, connect, wrap_exceptions
from switchyard.errors import DatabaseError
from switchyard.queries import queries
from worker.leases import Holdings

log = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    def __init__(
        self,
        url: str,
        owner: str,
        holdings: Holdings,
        *,
        lease_s: float,
        every_s: float,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="switchyard-heartbeat", daemon=True)
        self.url = url
        self.owner = owner
        self.holdings = holdings
        self.lease_s = lease_s
        self.every_s = every_s
        self.stop = stop
        self._conn: Connection | None = None
        # One beat at a time: a beat made from another thread (tests do) must neither
        # share the connection's transaction nor open a second connection that replaces,
        # and so leaks, the first.
        self._lock = threading.Lock()

    def beat(self) -> None:
        """One renewal (also called directly by tests, from their own thread)."""
        with self._lock:
            self._beat()

    def _beat(self) -> None:
        if self._conn is None or self._conn.closed:
            # A renewal that cannot finish within a third of the lease is cancelled and
            # made again at the next beat, before the leases run out.
            self._conn = connect(
                self.url,
                autocommit=True,
                application="switchyard-heartbeat",
                statement_timeout_s=self.lease_s / 3,
            )
        conn = self._conn
        started = time.monotonic()
        job_ids, addresses = self.holdings.held()
        lease = {"owner": self.owner, "lease_s": self.lease_s}
        with wrap_exceptions(), conn.transaction():
            jobs = conn.execute(queries["extend_job_leases"], {**lease, "ids": job_ids}).fetchall()
            terminals = conn.execute(
                queries["renew_terminals"], {**lease, "addresses": addresses}
            ).fetchall()
            conn.execute(queries["worker_heartbeat"], {"id": self.owner})
        self.holdings.renewed(
            {row["id"] for row in jobs},
            {row["address"] for row in terminals},
            self.lease_s,
            started,
        )

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                self.beat()
            except DatabaseError as exc:
                log.warning("heartbeat failed (%s); leases run out unless the next one works", exc)
                self._close()
        self._close()

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
