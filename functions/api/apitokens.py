"""API tokens on the way in: looked up in the database on every request, never cached.

A bearer token that starts with `syt_` (switchyard/tokens.py) is an API token. Its hash
is looked up by `private.use_api_token` as the functions' login role, before the request
becomes its owner: a revoked or expired token finds no row, in every function process at
once, and every use is recorded in the owner's audit log (the endpoint, the scope it
needs, whether the token has it). The request then runs as the owner under the same RLS
as a session would, with claims that name the token (`switchyard_api_token`, for the
audit log) and say `aal1`: an API token never counts as a second factor, so what needs
one (functions/api/statuses.py `SECOND_FACTOR_REQUIRED`) is refused to it for a user who
has one.

    unknown, revoked, expired, malformed   401 (Unauthorized)
    the route's scope not among its scopes  403 (OUT_OF_SCOPE)
    the route declares no scope, or SESSION 403: API tokens are not accepted there
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg_pool import AsyncConnectionPool

from functions.api.auth import Principal
from functions.api.problems import Problem, Unauthorized
from functions.api.scopes import GRANTABLE, Scope
from functions.api.statuses import Outcome
from switchyard.db import AsyncConnection, wrap_exceptions
from switchyard.queries import queries
from switchyard.tokens import api_token_hash, is_well_formed_api_token

_REFUSED = Unauthorized("the API token is unknown, revoked or expired: create a new one")


def token_claims(user_id: uuid.UUID, token_id: uuid.UUID, scopes: list[str]) -> dict[str, Any]:
    """What the database sees for a request made with an API token."""
    return {
        "sub": str(user_id),
        "role": "authenticated",
        "aud": "authenticated",
        "aal": "aal1",
        "switchyard_api_token": {"id": str(token_id), "scopes": scopes},
    }


def refusal(scope: Scope | None, scopes: list[str], where: str) -> Problem:
    if scope in GRANTABLE:
        return Problem(
            Outcome.OUT_OF_SCOPE,
            f"this API token's scopes ({', '.join(scopes)}) do not include '{scope}', "
            f"which {where} needs: create a token with it",
            extra={"required_scope": str(scope)},
        )
    return Problem(
        Outcome.OUT_OF_SCOPE,
        f"{where} does not accept API tokens: use a signed-in session's access token "
        "(switchyard login). A token may never manage tokens, so a leaked one cannot "
        "mint itself a successor that outlives its revocation",
    )


class ApiTokens:
    """Resolves API tokens into their owner, through the functions' pool."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection]) -> None:
        self._pool = pool

    async def principal(
        self,
        token: str,
        scope: Scope | None,
        *,
        method: str,
        path: str,
        route: str,
        client_address: str | None,
        user_agent: str,
    ) -> Principal:
        if not is_well_formed_api_token(token):
            raise _REFUSED
        params = {
            "token_hash": api_token_hash(token),
            "scope": str(scope) if scope in GRANTABLE else None,
            "method": method,
            "path": path,
            "client_address": client_address or "",
            "user_agent": user_agent,
        }
        with wrap_exceptions():
            async with self._pool.connection() as conn:
                row = await (await conn.execute(queries["api_use_api_token"], params)).fetchone()
        if row is None:
            raise _REFUSED
        scopes = list(row["scopes"])
        if not row["allowed"]:
            raise refusal(scope, scopes, f"{method} {route}")
        user_id, token_id = uuid.UUID(str(row["user_id"])), uuid.UUID(str(row["token_id"]))
        return Principal(
            user_id=user_id, claims=token_claims(user_id, token_id, scopes), api_token=token_id
        )
