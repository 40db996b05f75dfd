"""The live event stream's fan-out: one feed per signed-in user, one queue per client.

The process's one listener (functions/api/listener.py) hears `switchyard_events` with a
user id and wakes that user's feed; without LISTEN (a transaction pooler:
SWITCHYARD_FUNCTIONS_LISTEN=false) or while the listener reconnects, feeds poll the log
every SWITCHYARD_EVENTS_POLL_INTERVAL_S instead. A feed reads its user's new events from
the log (`public.events`, as that user: RLS decides what exists) once, whatever the number
of clients, and offers each to every client's bounded queue. Offering never waits: a
client whose queue is full is ended ("overflow") and resumes with Last-Event-ID, so a slow
client never holds up the listener, its feed or anyone else.

A client that resumes replays (Last-Event-ID, the feed's position when it joined] from the
log itself, then takes its queue; the queue only ever holds events after that position,
so nothing is missed and nothing is sent twice. A feed whose last client leaves stops; a
feed that dies (a bug) ends its clients' streams and is logged, never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from functions.api.auth import Principal
from functions.api.listener import Listener
from functions.api.schemas.events import Cursor, Event, shaped
from switchyard.db import AsyncConnection, as_role_async
from switchyard.errors import DatabaseError
from switchyard.queries import queries

log = logging.getLogger("switchyard.functions.events")

#: Events read from the log in one query.
BATCH = 200
#: With LISTEN up, a feed still reads the log this often (a lost notification costs this).
SAFETY_POLL_S = 30.0
#: How soon a feed looks again at events that were committed but not final yet (doubling
#: while an older transaction goes on running, up to 32 times this).
NOT_FINAL_RETRY_S = 0.1
#: Backoff of a feed whose reads fail (the database is away), doubling up to the last.
_READ_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
#: How long a joining client waits for its feed's first read.
JOIN_TIMEOUT_S = 10.0


class Client:
    """One open stream: a bounded queue of events and why it ended, if it did."""

    def __init__(self, user_id: uuid.UUID, limit: int) -> None:
        self.user_id = user_id
        self._limit = limit
        self._pending: deque[Event] = deque()
        self._signal = asyncio.Event()
        #: The feed's position when this client joined: its queue holds only later events.
        self.joined: Cursor | None = None
        self.joined_signal = asyncio.Event()
        #: Why the stream must end: "overflow", "unavailable", "internal", "shutdown"
        #: ("expired" is the stream's own); None while open.
        self.ended: str | None = None

    def offer(self, event: Event) -> None:
        """Queue `event`, never waiting; a full queue ends the stream instead."""
        if self.ended is not None:
            return
        if len(self._pending) >= self._limit:
            self.end("overflow")
            return
        self._pending.append(event)
        self._signal.set()

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
        self._pending.clear()
        self._signal.set()
        self.joined_signal.set()

    async def take(self, timeout_s: float) -> list[Event]:
        """What is queued, waiting at most `timeout_s` for something; [] on timeout."""
        if not self._pending and self.ended is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._signal.wait(), timeout_s)
        self._signal.clear()
        taken = list(self._pending)
        self._pending.clear()
        return taken


class Feed:
    """One user's new events, read once and offered to each of their clients."""

    def __init__(self, hub: EventHub, user_id: uuid.UUID, claims: Mapping[str, Any]) -> None:
        self.hub = hub
        self.user_id = user_id
        self.claims = claims
        self.clients: set[Client] = set()
        self.cursor: Cursor | None = None
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def add(self, client: Client) -> None:
        self.clients.add(client)
        if self.cursor is not None:  # no await since: nothing after it is missed
            client.joined = self.cursor
            client.joined_signal.set()

    async def run(self) -> None:
        start = await self.hub.read_start(self.claims)
        self.cursor = start
        for client in self.clients:
            client.joined = start
            client.joined_signal.set()
        # Read at once: a change committed just before, not final then, was notified to
        # nobody (this feed did not exist yet).
        self.wake.set()
        failures = 0
        not_final = 0  # reads in a row that left events not final yet
        while self.clients:
            wait_s = self.hub.idle_wait_s()
            if not_final:  # an older transaction still runs: look again soon, then less so
                wait_s = min(wait_s, NOT_FINAL_RETRY_S * 2 ** min(not_final - 1, 5))
            if failures:
                wait_s = _READ_BACKOFF_S[min(failures, len(_READ_BACKOFF_S)) - 1]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait_s)
            self.wake.clear()
            try:
                not_final = not_final + 1 if await self._read_new() else 0
                failures = 0
            except (DatabaseError, psycopg.Error) as exc:
                if failures == 0:
                    log.warning("events of a user cannot be read now (%s)", type(exc).__name__)
                failures += 1

    async def _read_new(self) -> bool:
        """Offer every final event after the cursor; True when some are not final yet."""
        while True:
            assert self.cursor is not None
            rows = await self.hub.read_after(self.claims, self.cursor, None)
            for row in rows:
                if not row["final"]:
                    return True
                event = shaped(row)
                self.cursor = event.cursor
                for client in list(self.clients):
                    client.offer(event)
                    if client.ended is not None:  # it has what it needs to say goodbye
                        self.hub.leave(client)
            if len(rows) < BATCH:
                return False


class EventHub:
    """Every feed of this process; joined and left by the `/v1/events` streams."""

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection],
        listener: Listener,
        *,
        poll_interval_s: float,
        queue_size: int,
    ) -> None:
        self._pool = pool
        self._listener = listener
        self.poll_interval_s = poll_interval_s
        self.queue_size = queue_size
        self.feeds: dict[uuid.UUID, Feed] = {}
        listener.subscribe("switchyard_events", "api_listen_events", self._wake, self._wake_all)

    def idle_wait_s(self) -> float:
        return SAFETY_POLL_S if self._listener.listening else self.poll_interval_s

    def _wake(self, payload: str) -> None:
        try:
            feed = self.feeds.get(uuid.UUID(payload))
        except ValueError:
            return  # not a user id: not ours
        if feed is not None:
            feed.wake.set()

    def _wake_all(self) -> None:
        for feed in self.feeds.values():
            feed.wake.set()

    async def join(self, principal: Principal) -> Client:
        """A new client of the caller's feed, with `joined` set; DatabaseError when the
        log cannot be read now."""
        client = Client(principal.user_id, self.queue_size)
        feed = self.feeds.get(principal.user_id)
        if feed is None:
            feed = Feed(self, principal.user_id, principal.claims)
            self.feeds[principal.user_id] = feed
            feed.add(client)
            feed.task = asyncio.create_task(feed.run(), name="switchyard-events-feed")
            feed.task.add_done_callback(lambda task: self._feed_ended(feed, task))
        else:
            feed.claims = principal.claims
            feed.add(client)
        try:
            await asyncio.wait_for(client.joined_signal.wait(), JOIN_TIMEOUT_S)
        except TimeoutError:
            client.end("unavailable")
        if client.joined is None:
            self.leave(client)
            raise DatabaseError("the event log cannot be read now")
        return client

    def leave(self, client: Client) -> None:
        """The client is gone (again is harmless); a feed with nobody left stops."""
        feed = self.feeds.get(client.user_id)
        if feed is None or client not in feed.clients:
            return
        feed.clients.discard(client)
        if not feed.clients:
            del self.feeds[client.user_id]
            if feed.task is not None:
                feed.task.cancel()

    @property
    def clients(self) -> int:
        """How many streams this process serves (tests read it)."""
        return sum(len(feed.clients) for feed in self.feeds.values())

    def _feed_ended(self, feed: Feed, task: asyncio.Task[None]) -> None:
        if self.feeds.get(feed.user_id) is feed:
            del self.feeds[feed.user_id]
        if task.cancelled():
            reason = "unavailable"
        else:
            failure = task.exception()
            if failure is None:
                return  # its last client left
            if isinstance(failure, DatabaseError | psycopg.Error):
                log.warning("the event log cannot be read (%s)", type(failure).__name__)
                reason = "unavailable"
            else:
                log.error("an event feed died", exc_info=failure)
                reason = "internal"
        for client in feed.clients:
            client.end(reason)

    def close_all(self) -> None:
        """End every stream now ("shutdown"): the server is stopping, and a stream would
        otherwise hold it until its client leaves. Feeds stop as their clients go."""
        for feed in list(self.feeds.values()):
            for client in list(feed.clients):
                client.end("shutdown")

    async def stop(self) -> None:
        feeds = list(self.feeds.values())
        for feed in feeds:
            for client in feed.clients:
                client.end("unavailable")
            if feed.task is not None:
                feed.task.cancel()
        for feed in feeds:
            if feed.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task
        self.feeds.clear()

    # -- reading the log, as the user ---------------------------------------------------

    async def _rows(
        self, claims: Mapping[str, Any], name: str, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        async with (
            self._pool.connection() as conn,
            as_role_async(conn, "authenticated", claims) as cur,
        ):
            await cur.execute(queries[name], params)
            return await cur.fetchall()

    async def api_token_live(self, claims: Mapping[str, Any], token_id: uuid.UUID) -> bool:
        """Whether the caller's API token still works (not revoked, not expired)."""
        row = (await self._rows(claims, "api_events_token_live", {"id": token_id}))[0]
        return bool(row["live"])

    async def read_start(self, claims: Mapping[str, Any]) -> Cursor:
        """Where a stream that asks for nothing old starts."""
        row = (await self._rows(claims, "api_events_start", {}))[0]
        return Cursor(int(row["xact_id"]), 0)

    async def horizon(self, claims: Mapping[str, Any]) -> Cursor | None:
        """The newest pruned event, if any."""
        row = (await self._rows(claims, "api_events_start", {}))[0]
        return None if row["horizon"] is None else Cursor.parse(row["horizon"])

    async def read_after(
        self, claims: Mapping[str, Any], after: Cursor, until: Cursor | None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {**after.params(), "limit": BATCH}
        params |= until.params("until_") if until else {"until_xact_id": None, "until_id": None}
        return await self._rows(claims, "api_events_after", params)
