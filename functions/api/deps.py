"""Dependencies, as `Annotated` aliases the handlers declare."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from functions.api.auth import Principal, bearer_token
from functions.api.idempotency import parse_idempotency_key
from functions.api.ratelimit import Bucket
from functions.api.runtime import Runtime
from functions.api.session import UserSession

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="SupabaseAuth",
    description="A Supabase Auth access token (supabase-js: `session.access_token`; "
    "locally: `switchyard token you@example.com`).",
)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def _current_user(
    request: Request,
    runtime: RuntimeDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await runtime.verifier.verify(bearer_token(request.headers.get("authorization")))


CurrentUser = Annotated[Principal, Depends(_current_user)]


def _client_headers(request: Request) -> dict[str, str]:
    """What the audit log records: the client's address and user agent."""
    headers = {"user-agent": request.headers.get("user-agent", "")[:500]}
    if request.client is not None:
        headers["x-forwarded-for"] = request.client.host
    return headers


def _session(*buckets: Bucket) -> Callable[..., Awaitable[UserSession]]:
    async def session(request: Request, runtime: RuntimeDep, user: CurrentUser) -> UserSession:
        return UserSession(runtime.pool, user, _client_headers(request), runtime.limits, buckets)

    return session


#: The caller's transactions, charged to the general rate limit.
UserDb = Annotated[UserSession, Depends(_session(Bucket.ALL))]
#: The same, also charged to the stricter credentials limit.
CredentialsDb = Annotated[UserSession, Depends(_session(Bucket.ALL, Bucket.CREDENTIALS))]

#: `?wait=` seconds for the worker's verdict (bounded by SWITCHYARD_WAIT_MAX_S).
WaitQuery = Annotated[
    float | None,
    Query(
        ge=0,
        le=300,
        allow_inf_nan=False,
        description="Seconds to wait for the worker's verdict before answering 202 "
        "(0: do not wait; default SWITCHYARD_WAIT_DEFAULT_S, at most SWITCHYARD_WAIT_MAX_S).",
    ),
]


def _idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description='Retry-safe key (IETF draft): `Idempotency-Key: "<uuid>"`.',
        ),
    ] = None,
) -> str | None:
    return parse_idempotency_key(idempotency_key)


IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]
