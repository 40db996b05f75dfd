"""/v1/events: your own job, order and account changes as they happen (Server-Sent Events).

    curl -N $URL/v1/events -H "Authorization: Bearer $TOKEN"
    curl -N $URL/v1/events -H "Authorization: Bearer $TOKEN" -H 'Last-Event-ID: 7412-318'

First `event: ready` (`{"last_event_id", "resumed"}`), then one `id:`/`event:`/`data:`
block per change (`job`, `order`, `account`), a `: heartbeat` comment when nothing else
was sent for SWITCHYARD_EVENTS_HEARTBEAT_S, and `event: end` (`{"reason", "detail"}`) when
the server closes the stream (`ENDINGS`: the token expired or was revoked, an hour passed,
the client fell too far behind, the process stops, the database is away). Reconnect with
the last id as `Last-Event-ID` and
nothing is missed; one older than the log's retention gets `event: reset` (reload, then
follow from its id).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Header
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from functions.api.deps import CurrentUser, RuntimeDep, UserDb
from functions.api.events import BATCH, Client, EventHub
from functions.api.openapi import documented
from functions.api.problems import Problem
from functions.api.schemas.events import Cursor, control, shaped
from functions.api.scopes import Scope
from functions.api.statuses import AUTHENTICATED, Outcome
from functions.api.strictjson import StrictJsonRoute
from switchyard.errors import DatabaseError

router = APIRouter(prefix="/v1/events", tags=["events"], route_class=StrictJsonRoute)

HEARTBEAT = b": heartbeat\n\n"
#: The longest a stream lasts, whatever its token says: its credential is checked again.
MAX_STREAM_S = 3600.0

#: What `event: end` says, by reason.
ENDINGS = {
    "expired": "the access token has expired: reconnect with a fresh one and Last-Event-ID",
    "renew": "a stream lasts at most an hour: reconnect with Last-Event-ID",
    "revoked": "the API token was revoked or has expired: use another one",
    "overflow": "this client fell too far behind: reconnect with Last-Event-ID to catch up",
    "unavailable": "the event log cannot be read now: reconnect with Last-Event-ID",
    "internal": "a fault on our side ended the stream (it has been logged): reconnect with "
    "Last-Event-ID",
    "shutdown": "this server is stopping: reconnect with Last-Event-ID",
}

_DOC = documented(
    Outcome.DONE,
    *AUTHENTICATED,
    Outcome.INVALID,
    scope=Scope.READ,
    say={
        200: "A `text/event-stream` of your own changes (see the description).",
        422: "`Last-Event-ID` is not an id this stream sent (`<digits>-<digits>`).",
        503: "The database is unavailable; see Retry-After.",
    },
)
_DOC["responses"][200]["content"] = {"text/event-stream": {"schema": {"type": "string"}}}


@router.get("", response_class=StreamingResponse, **_DOC, summary="Your changes, live (SSE)")
async def events(
    user: CurrentUser,
    db: UserDb,
    runtime: RuntimeDep,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="The last `id:` you received: the events after it are sent first.",
        ),
    ] = None,
) -> StreamingResponse:
    """Your job, order and account changes as they happen, never anyone else's.

    The stream ends when the access token expires; reconnect with a fresh token and
    `Last-Event-ID` to go on where it stopped.
    """
    resume = None
    if last_event_id is not None:
        resume = Cursor.parse(last_event_id)
        if resume is None:
            raise Problem(
                Outcome.INVALID,
                "Last-Event-ID must be an id this stream sent (two numbers: 1234-56)",
            )
    async with db.transaction():
        pass  # the rate limit's charge, and proof that the token's user exists
    hub = runtime.events
    client = await hub.join(user)
    # Until the token would be refused (exp + leeway), and at most MAX_STREAM_S: a
    # credential without an `exp` is checked again at least that often.
    ends_at = time.time() + MAX_STREAM_S
    reason = "renew"
    exp = user.claims.get("exp")
    if isinstance(exp, int | float) and exp + runtime.settings.jwt_leeway_s <= ends_at:
        ends_at, reason = exp + runtime.settings.jwt_leeway_s, "expired"
    # A stream opened with an API token ends once it is revoked or expires: checked every
    # heartbeat interval (a session's token is checked by its `exp` above).
    token_live: Callable[[], Awaitable[bool]] | None = None
    if (token_id := user.api_token) is not None:

        async def token_live() -> bool:
            return await hub.api_token_live(user.claims, token_id)

    body = _stream(
        hub,
        client,
        user.claims,
        resume,
        (ends_at, reason),
        runtime.settings.events_heartbeat_s,
        token_live,
    )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        # Runs once the response is over, a client that went away included.
        background=BackgroundTask(_close, hub, client, body),
    )


async def _close(hub: EventHub, client: Client, body: AsyncIterator[bytes]) -> None:
    hub.leave(client)
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()


async def _stream(
    hub: EventHub,
    client: Client,
    claims: Mapping[str, Any],
    resume: Cursor | None,
    ends: tuple[float, str],
    heartbeat_s: float,
    token_live: Callable[[], Awaitable[bool]] | None,
) -> AsyncIterator[bytes]:
    """ready, the replay after `resume`, then what the feed offers, until the end."""
    joined = client.joined
    assert joined is not None
    try:
        try:
            sent = joined
            if resume is None:
                yield control("ready", {"last_event_id": str(joined), "resumed": False}, joined)
            elif (horizon := await hub.horizon(claims)) is not None and resume < horizon:
                yield control(
                    "reset",
                    {
                        "last_event_id": str(joined),
                        "detail": "events after your Last-Event-ID were pruned: reload, then "
                        "follow from this id",
                    },
                    joined,
                )
            else:
                yield control("ready", {"last_event_id": str(resume), "resumed": True})
                sent = resume
                while sent < joined:  # what happened while the client was away
                    rows = await hub.read_after(claims, sent, joined)
                    for row in rows:
                        event = shaped(row)
                        yield event.encode()
                        sent = event.cursor
                    if len(rows) < BATCH:
                        break
        except (DatabaseError, psycopg.Error):
            client.end("unavailable")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (ends[0] - time.time())
        next_check = loop.time() + heartbeat_s
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0 and client.ended is None:
                client.end(ends[1])
            if token_live is not None and client.ended is None and loop.time() >= next_check:
                next_check = loop.time() + heartbeat_s
                try:
                    if not await token_live():
                        client.end("revoked")
                except (DatabaseError, psycopg.Error):
                    client.end("unavailable")  # a credential we cannot check ends the stream
            taken = await client.take(min(heartbeat_s, max(remaining, 0)))
            if client.ended is not None:
                reason = client.ended
                yield control("end", {"reason": reason, "detail": ENDINGS[reason]})
                return
            if not taken:
                yield HEARTBEAT
            for event in taken:
                if event.cursor > sent:
                    yield event.encode()
                    sent = event.cursor
    finally:
        hub.leave(client)
