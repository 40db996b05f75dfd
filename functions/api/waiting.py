"""Waiting for the worker's verdict on a job, bounded in time.

The process's one listener (functions/api/listener.py) hears `switchyard_job_done` (the
schema's trigger sends the job id when a job ends) and wakes the requests waiting for that
job. Every waiting request also re-reads its job row at least every `poll_interval_s`:
through a transaction pooler LISTEN is silently useless, and a notification sent while the
listener was reconnecting is lost. Waiting holds no pooled connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from functions.api.listener import Listener
from switchyard.domain import JobId

Row = TypeVar("Row")


class JobWaiter:
    """Wakes waiting requests when their job ends."""

    def __init__(self, listener: Listener, *, poll_interval_s: float) -> None:
        self._listener = listener
        self.poll_interval_s = poll_interval_s
        self._waiting: dict[str, set[asyncio.Event]] = {}
        listener.subscribe("switchyard_job_done", "api_listen_job_done", self._wake, self._wake_all)

    @property
    def listening(self) -> bool:
        """True while the process's LISTEN connection is up (tests and /healthz read it)."""
        return self._listener.listening

    def _wake(self, job_id: str) -> None:
        for event in self._waiting.get(job_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiting.values():
            for event in events:
                event.set()

    async def wait(
        self,
        job_id: JobId,
        timeout_s: float,
        read: Callable[[], Awaitable[Row]],
        done: Callable[[Row], bool],
    ) -> Row:
        """Re-read the job until `done(row)` or `timeout_s`; return the last row read."""
        key = str(job_id)
        event = asyncio.Event()
        self._waiting.setdefault(key, set()).add(event)  # before the first read: no gap
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                event.clear()
                row = await read()
                remaining = deadline - time.monotonic()
                if done(row) or remaining <= 0:
                    return row
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(remaining, self.poll_interval_s))
        finally:
            events = self._waiting.get(key)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiting[key]
