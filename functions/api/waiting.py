"""Waiting for the worker's verdict on a job, bounded in time.

One connection per process LISTENs on `switchyard_job_done` (the schema's trigger
sends the job id when a job ends) and wakes the requests waiting for that job. Every
waiting request also re-reads its job row at least every `poll_interval_s`: through
a transaction pooler LISTEN is silently useless, and a notification sent while the
listener was reconnecting is lost. Waiting holds no pooled connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

import psycopg

from functions.core.queries import queries

log = logging.getLogger("switchyard.functions.waiting")

Row = TypeVar("Row")

#: Reconnection delays of the listener, doubling up to the last.
_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class JobWaiter:
    """Wakes waiting requests when their job ends."""

    def __init__(self, conninfo: str | None, *, poll_interval_s: float) -> None:
        #: None: no LISTEN at all (transaction pooler), polling only.
        self._conninfo = conninfo
        self.poll_interval_s = poll_interval_s
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        #: True while the LISTEN connection is up (tests and /healthz read it).
        self.listening = False

    async def start(self) -> None:
        if self._conninfo is not None and self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="switchyard-listen")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.listening = False

    async def _listen_forever(self) -> None:
        assert self._conninfo is not None
        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name="switchyard-functions-listen"
                ) as conn:
                    await conn.execute(queries["api_listen_job_done"])
                    self.listening = True
                    attempt = 0
                    self._wake_all()  # anything that ended while we were away: re-read
                    async for notice in conn.notifies():
                        self._wake(notice.payload)
            except psycopg.Error as exc:
                delay = _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]
                if self.listening or attempt == 0:
                    log.warning(
                        "LISTEN switchyard_job_done unavailable (%s); polling, retrying in %ss",
                        type(exc).__name__,
                        delay,
                    )
                self.listening = False
                attempt += 1
                await asyncio.sleep(delay)

    def _wake(self, job_id: str) -> None:
        for event in self._waiting.get(job_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiting.values():
            for event in events:
                event.set()

    async def wait(
        self,
        job_id: UUID,
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
