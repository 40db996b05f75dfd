"""Waking the lanes: LISTEN/NOTIFY on `switchyard_jobs`, with a fallback poll.

A notification wakes every lane at once (the payload is a job id; any lane may take
it). Lanes always wait with a timeout, so a lost notification (listener reconnecting,
a NOTIFY dropped by a pooler) delays a job by at most the poll interval.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from psycopg import sql

from switchyard.db import connect
from switchyard.errors import DatabaseError
from worker.retry import Backoff

log = logging.getLogger(__name__)

CHANNEL = "switchyard_jobs"


class Wakeup:
    """A broadcast: lanes wait on it, the listener and the worker itself ring it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    def ring(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def wait(self, since: int, timeout_s: float) -> bool:
        """Wait until rung after generation `since`, at most `timeout_s`; True if rung."""
        with self._cond:
            return self._cond.wait_for(lambda: self._generation != since, timeout=timeout_s)


class Listener(threading.Thread):
    """LISTENs on its own connection and rings the wakeup for every notification."""

    def __init__(self, url: str, wakeup: Wakeup, stop: threading.Event, backoff: Backoff) -> None:
        super().__init__(name="switchyard-listener", daemon=True)
        self.url = url
        self.wakeup = wakeup
        self.stop = stop
        self.backoff = backoff
        self.listening = threading.Event()

    def run(self) -> None:
        failures = 0
        while not self.stop.is_set():
            try:
                self._listen()
                failures = 0
            except DatabaseError as exc:
                failures += 1
                self.listening.clear()
                delay = self.backoff.delay_s(failures)
                log.warning("listener lost the database (%s); again in %.1f s", exc, delay)
                self.stop.wait(delay)

    def _listen(self) -> None:
        with connect(self.url, autocommit=True, application="switchyard-worker-listen") as conn:
            try:
                conn.execute(sql.SQL("listen {}").format(sql.Identifier(CHANNEL)))
                self.listening.set()
                self.wakeup.ring()  # whatever was queued while we were not listening
                while not self.stop.is_set():
                    for _ in conn.notifies(timeout=1.0):
                        self.wakeup.ring()
            except psycopg.OperationalError as exc:
                raise DatabaseError(f"the listener's connection failed: {exc}") from exc
