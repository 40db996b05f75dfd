"""One request as the handlers see it, and the checks in front of them: Supabase's API
gateway (the `apikey`) and GoTrue's requireAuthentication (the bearer token, its user and
its session).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from switchyard.sim.auth import errors
from switchyard.sim.auth.sessions import Client
from switchyard.sim.auth.store import Row, Transaction
from switchyard.sim.auth.tokens import TokenService

#: GoTrue's limitRequestBody.
MAX_BODY_BYTES: Final = 1 << 20
_BEARER: Final = re.compile(r"^(?:B|b)earer (\S+)$")


def _json_type(value: object) -> str:
    """The JSON type Go's encoding/json names in its unmarshal errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string" if isinstance(value, str) else "value"


@dataclass(frozen=True, kw_only=True)
class Call:
    """What a handler needs of its request."""

    body: bytes = field(repr=False)
    query: Mapping[str, str]
    headers: Mapping[str, str] = field(repr=False)
    path_params: Mapping[str, str]
    client: Client
    now: dt.datetime

    @property
    def ip(self) -> str:
        return self.client.ip or ""

    def params(self) -> dict[str, Any]:
        """retrieveRequestParams: the body must be one JSON object."""
        if len(self.body) > MAX_BODY_BYTES:
            raise errors.ApiError(
                413,
                errors.REQUEST_ENTITY_TOO_LARGE,
                f"Request body too large (max {MAX_BODY_BYTES} bytes)",
            )
        try:
            document = json.loads(self.body or b"")
        except ValueError:
            reason = "unexpected end of JSON input" if not self.body.strip() else "invalid JSON"
            raise errors.bad_request(
                errors.BAD_JSON, f"Could not parse request body as JSON: {reason}"
            ) from None
        if not isinstance(document, dict):
            raise errors.bad_request(
                errors.BAD_JSON,
                "Could not parse request body as JSON: json: cannot unmarshal "
                f"{_json_type(document)} into Go value of type api.Params",
            )
        return document


def text_param(params: Mapping[str, Any], name: str) -> str:
    """A string member (absent or null: ""); any other type is GoTrue's bad_json."""
    value = params.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise errors.bad_request(
            errors.BAD_JSON,
            f"Could not parse request body as JSON: json: cannot unmarshal "
            f"{_json_type(value)} into Go struct field .{name} of type string",
        )
    return value


def object_param(params: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise errors.bad_request(
            errors.BAD_JSON,
            f"Could not parse request body as JSON: json: cannot unmarshal "
            f"{_json_type(value)} into Go struct field .{name} of type map[string]interface {{}}",
        )
    return value


def check_api_key(headers: Mapping[str, str], query: Mapping[str, str], anon_key: str) -> None:
    """Supabase's gateway (Kong key-auth): an `apikey` header or query parameter."""
    given = headers.get("apikey") or query.get("apikey")
    if not given:
        raise errors.GatewayError(
            401,
            "No API key found in request",
            "No `apikey` request header or url param was found.",
        )
    if given != anon_key:
        raise errors.GatewayError(
            401, "Invalid API key", "Double check your Supabase `anon` or `service_role` API key."
        )


@dataclass(frozen=True, kw_only=True)
class Authenticated:
    """requireAuthentication's result: the token's claims, its user and its session."""

    claims: Mapping[str, Any] = field(repr=False)
    user: Row = field(repr=False)
    session: Row | None = field(repr=False)

    def require_session(self) -> Row:
        if self.session is None:
            raise errors.internal("A valid session and a registered user are required")
        return self.session


def authenticate(tx: Transaction, call: Call, tokens: TokenService) -> Authenticated:
    """GoTrue's requireAuthentication + maybeLoadUserOrSession."""
    match = _BEARER.match(call.headers.get("authorization", ""))
    if match is None:
        raise errors.ApiError(
            401, errors.NO_AUTHORIZATION, "This endpoint requires a valid Bearer token"
        )
    claims = tokens.verify(match[1])
    subject = claims.get("sub")
    if not subject:
        raise errors.forbidden(errors.BAD_JWT, "invalid claim: missing sub claim")
    try:
        user_id = uuid.UUID(str(subject))
    except ValueError:
        raise errors.bad_request(
            errors.BAD_JWT, "invalid claim: sub claim must be a UUID"
        ) from None
    user = tx.one("user_by_id", id=user_id)
    if user is None:
        raise errors.forbidden(errors.USER_NOT_FOUND, "User from sub claim in JWT does not exist")
    session = None
    session_claim = claims.get("session_id")
    if session_claim and session_claim != str(uuid.UUID(int=0)):
        try:
            session_id = uuid.UUID(str(session_claim))
        except ValueError:
            raise errors.forbidden(
                errors.BAD_JWT, "invalid claim: session_id claim must be a UUID"
            ) from None
        session = tx.one("session_by_id", id=session_id)
        if session is None:
            raise errors.forbidden(
                errors.SESSION_NOT_FOUND, "Session from session_id claim in JWT does not exist"
            )
    banned_until = user["banned_until"]
    if banned_until is not None and call.now < banned_until:
        raise errors.forbidden(errors.USER_BANNED, "User is banned")
    return Authenticated(claims=claims, user=user, session=session)
