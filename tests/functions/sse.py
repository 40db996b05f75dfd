"""Reading `GET /v1/events` as a client does: httpx streaming, parsed as the HTML standard
says (id/event/data fields, a blank line ends an event, `:` starts a comment)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from tests.functions.helpers import RECORDED


@dataclass(frozen=True)
class Sse:
    type: str  # "comment" for a comment line
    data: Any
    id: str | None

    @property
    def subject(self) -> str:
        return str(self.data["id"])


class Stream:
    """One open stream: `await stream.next()` is the next event or comment."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.text: list[str] = []
        #: Every event read through `events()`, picked or not.
        self.seen: list[Sse] = []
        self.closed = False

    async def next(self, timeout_s: float = 10.0) -> Sse:
        return await asyncio.wait_for(self._next(), timeout_s)

    async def _next(self) -> Sse:
        kind, data, event_id = "message", [], None
        async for line in self._lines:
            self.text.append(line)
            if line.startswith(":"):
                return Sse("comment", line[1:].strip(), None)
            if line == "":
                if data:
                    return Sse(kind, json.loads("\n".join(data)), event_id)
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
        self.closed = True
        raise EOFError("the server ended the stream")

    async def events(
        self, count: int, timeout_s: float = 10.0, where: Callable[[Sse], bool] | None = None
    ) -> list[Sse]:
        """The next `count` events (those `where` accepts), comments skipped.

        A fresh stream starts below every transaction still running anywhere on the server,
        so it may first repeat a change committed just before it connected: tests that
        made changes before connecting pick theirs with `where`.
        """
        got: list[Sse] = []
        while len(got) < count:
            event = await self.next(timeout_s)
            self.seen.append(event)
            if event.type != "comment" and (where is None or where(event)):
                got.append(event)
        return got

    async def quiet_for(self, seconds: float) -> list[Sse]:
        """Every event (not comment) that arrives within `seconds`."""
        got: list[Sse] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                event = await self.next(left)
            except TimeoutError:
                break
            if event.type != "comment":
                got.append(event)
        return got


@contextlib.asynccontextmanager
async def open_stream(
    url: str, token: str, last_event_id: str | None = None
) -> AsyncIterator[Stream]:
    """The stream of `token`'s user; its text joins the secrets scan when it closes."""
    headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream"}
    if last_event_id is not None:
        headers["last-event-id"] = last_event_id
    async with (
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=None)) as client,
        client.stream("GET", "/v1/events", headers=headers) as response,
    ):
        stream = Stream(response)
        try:
            assert response.status_code == 200, (await response.aread()).decode()
            assert response.headers["content-type"].startswith("text/event-stream")
            yield stream
        finally:
            RECORDED.append((f"{url}/v1/events", "\n".join(stream.text)))


async def listeners(db_url: str) -> int:
    """How many connections of this database LISTEN for the functions (pg_stat_activity)."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        row = await (
            await conn.execute(
                "select count(*) from pg_stat_activity "
                "where datname = current_database() "
                "and application_name = 'switchyard-functions-listen'"
            )
        ).fetchone()
    assert row is not None
    return int(row[0])


async def listeners_become(db_url: str, expected: int, timeout_s: float = 15.0) -> int:
    """`listeners()` once it equals `expected` (a listener connects in the background),
    or what it is after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (count := await listeners(db_url)) != expected and loop.time() < deadline:
        await asyncio.sleep(0.1)
    return count
