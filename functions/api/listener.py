"""The one LISTEN connection of a function process, shared by everything that listens.

Waiting requests (functions/api/waiting.py) listen on `switchyard_job_done`, the event
stream (functions/api/events.py) on `switchyard_events`; both ride on this one
connection, however many requests and streams are open. It reconnects with a backoff
and, once back, tells every subscriber to re-read (a notification sent meanwhile is
lost). Behind a transaction pooler LISTEN cannot work: without a conninfo
(SWITCHYARD_FUNCTIONS_LISTEN=false) nothing connects and everyone polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg

from switchyard.queries import queries

log = logging.getLogger("switchyard.functions.listen")

#: Reconnection delays of the listener, doubling up to the last.
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: How the listening connection shows in pg_stat_activity.
APPLICATION_NAME = "switchyard-functions-listen"


class Listener:
    """LISTENs on the channels subscribed before `start()`; dispatches each payload."""

    def __init__(self, conninfo: str | None) -> None:
        #: None: no LISTEN at all (transaction pooler), polling only.
        self._conninfo = conninfo
        #: channel → (the named LISTEN statement, its handler)
        self._channels: dict[str, tuple[str, Callable[[str], None]]] = {}
        self._reconnected: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        #: True while the LISTEN connection is up (tests and /healthz read it).
        self.listening = False

    @property
    def enabled(self) -> bool:
        return self._conninfo is not None

    def subscribe(
        self,
        channel: str,
        listen_query: str,
        on_notify: Callable[[str], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        """`on_notify(payload)` for each notification on `channel` (LISTENed to by the named
        query `listen_query`); `on_reconnect()` after each (re)connect."""
        assert self._task is None, "subscribe before start()"
        self._channels[channel] = (listen_query, on_notify)
        self._reconnected.append(on_reconnect)

    async def start(self) -> None:
        if self._conninfo is not None and self._channels and self._task is None:
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
                    self._conninfo, autocommit=True, application_name=APPLICATION_NAME
                ) as conn:
                    for listen_query, _ in self._channels.values():
                        await conn.execute(queries[listen_query])
                    self.listening = True
                    attempt = 0
                    for reread in self._reconnected:  # what ended while we were away
                        reread()
                    async for notice in conn.notifies():
                        subscribed = self._channels.get(notice.channel)
                        if subscribed is not None:
                            subscribed[1](notice.payload)
            except psycopg.Error as exc:
                delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                if self.listening or attempt == 0:
                    log.warning(
                        "LISTEN %s unavailable (%s); polling, retrying in %ss",
                        ", ".join(self._channels),
                        type(exc).__name__,
                        delay,
                    )
                self.listening = False
                attempt += 1
                await asyncio.sleep(delay)
