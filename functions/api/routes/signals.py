"""/v1/signal-channels (the owner's) and the webhook /v1/signals/{channel_id} (no token).

    curl -X POST $API/v1/signal-channels -H "Authorization: Bearer $TOKEN" \\
         -d '{"name": "Gold breakout", "public": true}'          # → webhook_url, secret
    curl -X POST $WEBHOOK_URL -H 'content-type: text/plain' \\
         -d '{"secret": "…", "action": "buy", "symbol": "EURUSD", "id": "alert-123"}'

TradingView sends no headers of ours: the secret travels in the body, and the body is
JSON whatever its content type says (`text/plain` when the alert message merely looks
like JSON to it). The secret is shown once and stored as its SHA-256 only; the database
compares digests in constant time, charges the channel's rate limit, drops a replay and
queues one trade job per subscribed account in one statement (`private.receive_signal`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from functions.api import store
from functions.api.deps import RuntimeDep, UserDb, client_headers
from functions.api.openapi import REPLAYED, documented
from functions.api.problems import NotFound, Problem, RateLimited
from functions.api.runtime import Runtime
from functions.api.schemas.signals import (
    Alert,
    ChannelChange,
    ChannelCreated,
    ChannelOut,
    Delivered,
    NewChannel,
    SecretOut,
)
from functions.api.scopes import Scope
from functions.api.statuses import AUTHENTICATED, BY_ID, JSON_BODY, Outcome, status_of
from functions.api.strictjson import DuplicateKeyError, StrictJsonRoute, duplicate_key, loads_strict
from functions.api.transactions import login_role_transaction, refused
from functions.api.verdicts import answer
from switchyard.db import CLIENT_ADDRESS, wrap_exceptions
from switchyard.queries import queries

router = APIRouter(tags=["signals"], route_class=StrictJsonRoute)

#: How a channel's secret starts: a reader can tell it from other credentials.
SECRET_PREFIX = "sysig_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> tuple[str, bytes]:
    """A fresh secret (256 random bits) and the digest that is stored instead."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return secret, digest(secret)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def webhook_url(request: Request, runtime: Runtime, channel_id: UUID) -> str:
    base = runtime.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/v1/signals/{channel_id}"


def channel_out(row: dict[str, Any], request: Request, runtime: Runtime) -> ChannelOut:
    """The owner sees the webhook URL and the counts; anyone else the name only."""
    if not row["owned"]:
        return ChannelOut(
            id=row["id"], name=row["name"], public=row["public"], created_at=row["created_at"]
        )
    return ChannelOut(
        id=row["id"],
        name=row["name"],
        public=row["public"],
        webhook_url=webhook_url(request, runtime, row["id"]),
        deliveries=row["deliveries"],
        queued=row["queued"],
        skipped=row["skipped"],
        created_at=row["created_at"],
    )


async def _channel(db: UserDb, channel_id: UUID) -> dict[str, Any]:
    async with db.transaction() as cur:
        row = await store.one(cur, "api_signal_channels", {"channel_id": channel_id})
    if row is None:
        raise NotFound(f"signal channel {channel_id} not found")
    return row


@router.post(
    "/v1/signal-channels",
    response_model=ChannelCreated,
    **documented(Outcome.CREATED, *AUTHENTICATED, *JSON_BODY, scope=Scope.SESSION),
    summary="Create a signal channel (its webhook URL and secret)",
)
async def create_channel(
    body: NewChannel, request: Request, db: UserDb, runtime: RuntimeDep
) -> JSONResponse:
    """201 with the webhook URL and the secret: the secret is shown here only (and on
    rotation), and stored as a hash. Put it in the alert message (`"secret": "…"`)."""
    secret, hashed = new_secret()
    async with db.transaction() as cur:
        created = await store.one(
            cur,
            "api_create_signal_channel",
            {"name": body.name, "public": body.public, "secret_hash": hashed},
        )
        assert created is not None
        row = await store.one(cur, "api_signal_channels", {"channel_id": created["id"]})
    assert row is not None
    out = channel_out(row, request, runtime)
    return answer(
        Outcome.CREATED,
        ChannelCreated(**out.model_dump(), secret=secret),
        {"Location": f"/v1/signal-channels/{row['id']}"},
    )


@router.get(
    "/v1/signal-channels",
    response_model=list[ChannelOut],
    **documented(Outcome.DONE, *AUTHENTICATED, scope=Scope.READ),
    summary="The channels you own, subscribe to, or may subscribe to (public)",
)
async def list_channels(request: Request, db: UserDb, runtime: RuntimeDep) -> list[ChannelOut]:
    """Yours with their webhook URL and delivery counts; others' by name only."""
    async with db.transaction() as cur:
        await cur.execute(queries["api_signal_channels"], {"channel_id": None})
        rows = await cur.fetchall()
    return [channel_out(row, request, runtime) for row in rows]


@router.get(
    "/v1/signal-channels/{channel_id}",
    response_model=ChannelOut,
    **documented(Outcome.DONE, *BY_ID, scope=Scope.READ),
    summary="One channel",
)
async def get_channel(
    channel_id: UUID, request: Request, db: UserDb, runtime: RuntimeDep
) -> ChannelOut:
    """Never its secret, never who subscribes."""
    return channel_out(await _channel(db, channel_id), request, runtime)


@router.post(
    "/v1/signal-channels/{channel_id}/rotate",
    response_model=SecretOut,
    **documented(Outcome.DONE, *BY_ID, scope=Scope.SESSION),
    summary="Replace the channel's secret",
)
async def rotate_secret(
    channel_id: UUID, request: Request, db: UserDb, runtime: RuntimeDep
) -> SecretOut:
    """The new secret, shown once; the old one is refused (401) from now on."""
    secret, hashed = new_secret()
    async with db.transaction() as cur:
        await store.one(
            cur, "api_rotate_signal_secret", {"channel_id": channel_id, "secret_hash": hashed}
        )
    return SecretOut(
        id=channel_id, webhook_url=webhook_url(request, runtime, channel_id), secret=secret
    )


@router.patch(
    "/v1/signal-channels/{channel_id}",
    response_model=ChannelOut,
    **documented(Outcome.DONE, *BY_ID, *JSON_BODY, scope=Scope.SESSION),
    summary="Rename a channel, or change who may subscribe",
)
async def update_channel(
    channel_id: UUID, body: ChannelChange, request: Request, db: UserDb, runtime: RuntimeDep
) -> ChannelOut:
    """Only the fields given change (neither may be null). Making a public channel private
    takes no subscription away: it only stops new ones. Yours only (404 otherwise)."""
    given = body.model_fields_set
    if not given:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "give name, public or both", "type": "missing"}]
        )
    if nulls := [name for name in sorted(given) if getattr(body, name) is None]:
        raise RequestValidationError(
            [
                {"loc": ("body", name), "msg": "cannot be cleared: give a value", "type": "null"}
                for name in nulls
            ]
        )
    async with db.transaction() as cur:
        changed = await store.one(
            cur,
            "api_update_signal_channel",
            {"channel_id": channel_id, "name": body.name, "public": body.public},
        )
        if changed is None:
            raise NotFound(f"signal channel {channel_id} not found")
        row = await store.one(cur, "api_signal_channels", {"channel_id": channel_id})
    assert row is not None
    return channel_out(row, request, runtime)


@router.delete(
    "/v1/signal-channels/{channel_id}",
    response_class=Response,
    **documented(Outcome.DELETED, *BY_ID, scope=Scope.SESSION),
    summary="Delete a channel (and every subscription to it)",
)
async def delete_channel(channel_id: UUID, db: UserDb) -> Response:
    """Trades it created stay in their owners' history, still naming the signal."""
    async with db.transaction() as cur:
        if await store.one(cur, "api_delete_signal_channel", {"channel_id": channel_id}) is None:
            raise NotFound(f"signal channel {channel_id} not found")
    return Response(status_code=status_of(Outcome.DELETED))


# --- the webhook -----------------------------------------------------------------------


def _parse(raw: bytes) -> Any:
    """The body as JSON, whatever the content type; an empty body is an empty alert."""
    if not raw.strip():
        return {}
    try:
        return loads_strict(raw)
    except DuplicateKeyError as exc:
        raise duplicate_key(exc.key) from None
    except ValueError:
        raise Problem(
            Outcome.MALFORMED_JSON,
            "the body is not valid JSON: make the alert message a JSON object such as "
            '{"secret": "…", "action": "buy", "symbol": "EURUSD"}',
        ) from None


@router.post(
    "/v1/signals/{channel_id}",
    response_model=Delivered,
    **documented(
        Outcome.ACCEPTED,
        Outcome.SIGNAL_REJECTED,
        *JSON_BODY,
        Outcome.BODY_TOO_LARGE,
        Outcome.RATE_LIMITED,
        Outcome.DATABASE_UNAVAILABLE,
        Outcome.DATABASE_BUSY,
        headers={202: {REPLAYED: "`true`: this alert was delivered before; nothing new queued."}},
        say={
            202: "Accepted: `queued` trade jobs, `skipped` subscriptions (counts only).",
            401: "No such channel, or the secret is missing or wrong (no job was queued).",
            429: "Too many deliveries to this channel this minute; see Retry-After.",
        },
        scope=Scope.PUBLIC,
        extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": Alert.model_json_schema()},
                    "text/plain": {"schema": {"type": "string"}},
                },
            }
        },
    ),
    summary="A TradingView alert (no token: the channel's secret is in the body)",
)
async def receive_signal(channel_id: UUID, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """One trade job per subscribed account, in one statement; 202 with counts only. The
    same alert again (its `id`, or the same body within a minute) queues nothing more."""
    data = _parse(await request.body())
    given = data.get("secret") if isinstance(data, dict) else None
    secret_hash = digest(given) if isinstance(given, str) and given else None
    alert: Alert | None = None
    invalid: ValidationError | None = None
    try:
        alert = Alert.model_validate(data)
    except ValidationError as exc:
        invalid = exc
    fields = None if alert is None else alert.model_dump(mode="json", exclude={"secret"})
    body_hash = hashlib.sha256(
        json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    ).digest()
    headers = client_headers(request, runtime.settings.trusted_proxy_hops)
    address = headers.pop(CLIENT_ADDRESS, "")
    settings = runtime.settings
    try:
        with wrap_exceptions():
            async with login_role_transaction(runtime.pool) as cur:
                await cur.execute(
                    queries["api_signal_context"],
                    {"headers": json.dumps(headers), "client_address": address},
                )
                await cur.execute(
                    queries["api_receive_signal"],
                    {
                        "channel_id": channel_id,
                        "secret_hash": secret_hash,
                        "alert": None if fields is None else json.dumps(fields),
                        "body_hash": body_hash,
                        "ttl_s": settings.signal_ttl_s,
                        "replay_window_s": settings.signal_replay_window_s,
                        "limit": settings.signal_rate_limit_per_minute,
                    },
                )
                row = await cur.fetchone()
    except psycopg.Error as exc:
        problem = refused(exc)
        if problem is None:
            raise
        raise problem from exc
    assert row is not None
    outcome = row["outcome"]
    if outcome == "unauthorized":
        raise Problem(
            Outcome.SIGNAL_REJECTED,
            "no such signal channel, or the secret is missing or wrong: put the channel's "
            'secret in the alert message ("secret": "…")',
        )
    if outcome == "rate_limited":
        raise RateLimited(int(row["retry_after_s"]))
    if invalid is not None:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in invalid.errors(include_input=False)]
        )
    delivered = Delivered(queued=row["queued"], skipped=row["skipped"])
    return answer(
        Outcome.ACCEPTED, delivered, {REPLAYED: "true"} if outcome == "replayed" else None
    )
