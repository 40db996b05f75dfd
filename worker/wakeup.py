"""Waking the lanes: LISTEN/NOTIFY on `switchyard_jobs`, with a fallback poll.

A notification names the venue of the jobs just queued (the payload; the triggers on
public.jobs send one per venue per statement), and wakes only the lanes that serve it:
an MT5 order does not send every exchange lane to race the terminal's lane for the
claim. Any other payload (no venue, an older release's job id) wakes every lane. Lanes
always wait with a timeout, so a lost notification (listener reconnecting, a NOTIFY
dropped by a pooler) delays a job by at most the poll interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import psycopg
from psycopg import sql

from switchyard.db import connect
from switchyard.domain import Venue
from switchyard.errors import DatabaseError
from worker.retry import Backoff

log = logging.getLogger(__name__)

CHANNEL = "switchyard_jobs"
#: The payloads that name a venue (anything else wakes every lane).
VENUES: frozenset[str] = frozenset(v.value for v in Venue)


class Wakeup:
    """A broadcast by venue: lanes wait on their venues, the listener and the worker ring.

    One counter per venue and one for everything; a lane's generation is the sum of its
    venues' counters and the everything counter, which only ever grow, so it changes
    exactly when something the lane waits for was rung.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._everything = 0
        self._by_venue: dict[str, int] = {}

    def ring(self, venue: str | None = None) -> None:
        """Wake the lanes of `venue`; every lane when it is None."""
        with self._cond:
            if venue is None:
                self._everything += 1
            else:
                self._by_venue[venue] = self._by_venue.get(venue, 0) + 1
            self._cond.notify_all()

    def _generation(self, venues: Iterable[str]) -> int:
        return self._everything + sum(self._by_venue.get(v, 0) for v in venues)

    def generation(self, venues: Iterable[str] = ()) -> int:
        """The generation of `venues` (only the everything counter when empty)."""
        with self._cond:
            return self._generation(venues)

    def wait(self, since: int, timeout_s: float, venues: Iterable[str] = ()) -> bool:
        """Wait until `venues` (or everything) is rung after generation `since`, at most
        `timeout_s`; True if rung."""
        watched = tuple(venues)
        with self._cond:
            return self._cond.wait_for(
                lambda: self._generation(watched) != since, timeout=timeout_s
            )


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
                    for notice in conn.notifies(timeout=1.0):
                        self.wakeup.ring(notice.payload if notice.payload in VENUES else None)
            except psycopg.OperationalError as exc:
                raise DatabaseError(f"the listener's connection failed: {exc}") from exc
