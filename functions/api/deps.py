"""Dependencies, as `Annotated` aliases the handlers declare."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from functions.api.auth import Principal, bearer_token
from functions.api.clientaddr import client_address
from functions.api.idempotency import IDEMPOTENCY_KEY_RULES, parse_idempotency_key
from functions.api.ratelimit import Bucket
from functions.api.runtime import Runtime
from functions.api.scopes import declared_scope
from functions.api.transactions import UserSession
from switchyard.db import CLIENT_ADDRESS
from switchyard.tokens import looks_like_api_token

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="SupabaseAuth",
    description="A Supabase Auth access token (supabase-js: `session.access_token`; "
    "`switchyard login you@example.com`), or an API token (`syt_…`, POST /v1/api-tokens) "
    "limited to its scopes: each operation names the scope it needs in `x-api-token-scope`.",
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
    """A session's access token (verified locally), or an API token (looked up, limited to
    the scope the matched route declares: functions/api/scopes.py)."""
    token = bearer_token(request.headers.get("authorization"))
    if not looks_like_api_token(token):
        return await runtime.verifier.verify(token)
    route = request.scope.get("route")
    headers = client_headers(request, runtime.settings.trusted_proxy_hops)
    return await runtime.api_tokens.principal(
        token,
        declared_scope(route),
        method=request.method,
        path=request.url.path,
        route=getattr(route, "path", request.url.path),
        client_address=headers.get(CLIENT_ADDRESS),
        user_agent=headers["user-agent"],
    )


CurrentUser = Annotated[Principal, Depends(_current_user)]


def client_headers(request: Request, trusted_hops: int) -> dict[str, str]:
    """What the audit log records: the user agent, and the client address we vouch for.

    The address travels apart from the request headers (`CLIENT_ADDRESS`), so the
    database never has to guess which X-Forwarded-For entry is true for this path.
    """
    headers = {"user-agent": request.headers.get("user-agent", "")[:500]}
    peer = request.client.host if request.client is not None else None
    address = client_address(peer, request.headers.getlist("x-forwarded-for"), trusted_hops)
    if address is not None:
        headers[CLIENT_ADDRESS] = address
    return headers


def _session(*buckets: Bucket) -> Callable[..., Awaitable[UserSession]]:
    async def session(request: Request, runtime: RuntimeDep, user: CurrentUser) -> UserSession:
        headers = client_headers(request, runtime.settings.trusted_proxy_hops)
        return UserSession(runtime.pool, user, headers, runtime.limits, buckets)

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
            description=IDEMPOTENCY_KEY_RULES,
        ),
    ] = None,
) -> str | None:
    return parse_idempotency_key(idempotency_key)


IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]
