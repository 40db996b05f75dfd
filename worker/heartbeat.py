"""The heartbeat: renews this worker's job and terminal leases and its registry row.

One thread, one connection. Each beat confirms leases in the database and only then
moves their local deadlines (measured from before the query); a lease the database
did not confirm is lost at once, so a lane stops acting on it.
"""

from __future__ import annotations

import logging
import threading
import time

from functions.core.db import Connection, connect, wrap_exceptions
from functions.core.errors import DatabaseError
from functions.core.queries import queries
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

    def beat(self) -> None:
        """One renewal (also called directly by tests)."""
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, autocommit=True, application="switchyard-heartbeat")
        conn = self._conn
        started = time.monotonic()
        with wrap_exceptions(), conn.transaction():
            jobs = conn.execute(
                queries["extend_job_leases"], {"owner": self.owner, "lease_s": self.lease_s}
            ).fetchall()
            terminals = conn.execute(
                queries["renew_terminals"], {"owner": self.owner, "lease_s": self.lease_s}
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
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
        if self._conn is not None:
            self._conn.close()
