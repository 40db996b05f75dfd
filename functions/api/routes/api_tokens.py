"""/v1/api-tokens: personal tokens for scripts (cron, CI, TradingView bridges).

Created and revoked with a signed-in session only (an API token never manages tokens);
creating one needs the second factor when the user has one. The token is answered once;
the database keeps its hash (switchyard/tokens.py, private.create_api_token).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from functions.api import store
from functions.api.deps import CredentialsDb, UserDb
from functions.api.openapi import documented
from functions.api.problems import NotFound
from functions.api.schemas.api_tokens import ApiTokenCreated, ApiTokenOut, CreateApiToken
from functions.api.scopes import Scope
from functions.api.statuses import AUTHENTICATED, BY_ID, JSON_BODY, LOCATION, Outcome, status_of
from functions.api.strictjson import StrictJsonRoute
from functions.api.verdicts import answer
from switchyard.queries import queries
from switchyard.tokens import api_token_hash, new_api_token

router = APIRouter(prefix="/v1/api-tokens", tags=["api tokens"], route_class=StrictJsonRoute)

_SESSION_ONLY = (
    "Your account has a verified second factor and this session has not presented it "
    "(an aal2 token), or the request came with an API token: tokens are managed with a "
    "signed-in session only."
)


@router.post(
    "",
    response_model=ApiTokenCreated,
    **documented(
        Outcome.CREATED,
        *JSON_BODY,
        *AUTHENTICATED,
        Outcome.CONFLICT,
        Outcome.UNPROCESSABLE,
        Outcome.SECOND_FACTOR_REQUIRED,
        scope=Scope.SESSION,
        headers={201: {LOCATION: "The token's listing: `/v1/api-tokens`."}},
        say={
            403: _SESSION_ONLY,
            409: "You have 50 live tokens, the most allowed: revoke one first.",
            422: "The request is invalid (`errors`).",
        },
    ),
    summary="Create an API token (the token is shown once)",
)
async def create_api_token(body: CreateApiToken, db: CredentialsDb) -> JSONResponse:
    """A token limited to `scopes`, for `expires_in_days` days (default 90). Copy `token`
    now: only its hash is kept."""
    token = new_api_token()
    params = {
        "name": body.name,
        "scopes": list(body.scopes),
        "expires_in_days": body.expires_in_days,
        "token_hash": api_token_hash(token),
    }
    async with db.transaction() as cur:
        row = await store.one(cur, "api_create_api_token", params)
    assert row is not None  # the function returns its row or raises
    created = ApiTokenCreated(**ApiTokenOut.from_row(row).model_dump(), token=token)
    return answer(Outcome.CREATED, created, {LOCATION: "/v1/api-tokens"})


@router.get(
    "",
    response_model=list[ApiTokenOut],
    **documented(Outcome.DONE, *AUTHENTICATED, scope=Scope.READ),
    summary="Your API tokens (never the tokens themselves)",
)
async def list_api_tokens(db: UserDb) -> list[ApiTokenOut]:
    """Every token you have not revoked, expired ones included, newest first."""
    async with db.transaction() as cur:
        await cur.execute(queries["api_list_api_tokens"])
        rows = await cur.fetchall()
    return [ApiTokenOut.from_row(row) for row in rows]


@router.delete(
    "/{token_id}",
    response_class=Response,
    **documented(Outcome.DELETED, *BY_ID, scope=Scope.SESSION),
    summary="Revoke an API token",
)
async def revoke_api_token(token_id: uuid.UUID, db: UserDb) -> Response:
    """Refused at once by every function process from now on."""
    async with db.transaction() as cur:
        if await store.one(cur, "api_revoke_api_token", {"id": token_id}) is None:
            raise NotFound(f"API token {token_id} not found")
    return Response(status_code=status_of(Outcome.DELETED))
