"""Errors as `application/problem+json` (RFC 9457), and the handlers that render them.

    Problem                  any answer that is not a success; carries status and detail
    ├── Unauthorized         401, with `WWW-Authenticate: Bearer`
    ├── NotFound             404: missing and not-yours look exactly the same
    └── RateLimited          429, with `Retry-After`

Every handler here answers with a `detail` a person can act on. Nothing here ever
echoes a request's input back (a rejected field may be a password), and an unexpected
exception answers a bare 500 with no stack trace and no message of its own.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from functions.core.errors import DatabaseError

log = logging.getLogger("switchyard.functions")

MEDIA_TYPE = "application/problem+json"
#: Problem types are URNs: stable names a client can branch on, no web page behind them.
TYPE_PREFIX = "urn:switchyard:problem:"


class Problem(Exception):  # noqa: N818 - an answer, not only an error
    """The request cannot be served as it is."""

    status: int = 400
    slug: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        slug: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if slug is not None:
            self.slug = slug
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class Unauthorized(Problem):
    status = 401
    slug = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class NotFound(Problem):
    status = 404
    slug = "not-found"


class RateLimited(Problem):
    status = 429
    slug = "rate-limited"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many requests: try again in {retry_after_s} s",
            headers={"Retry-After": str(retry_after_s)},
            extra={"retry_after_s": retry_after_s},
        )


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """The one way a problem document is built."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + slug if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=MEDIA_TYPE
    )


#: Tags pydantic puts first in an error's location for a tagged union body.
_BODY_TAGS = frozenset(
    {
        "open",
        "close",
        "modify",
        "cancel",  # TradeRequest, tagged by `action`
        "mt5",
        "exchange",  # ConnectRequest, tagged by `kind`
    }
)
#: Member names pydantic puts in the location of a plain union field.
_MEMBER_STEPS = frozenset({"Mt5Credentials", "ExchangeCredentials"})


def _field(location: Sequence[int | str]) -> str:
    """`("body", "open", "volume")` → `volume`; query and header parameters keep their origin."""
    parts = [str(p) for p in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
        if parts and parts[0] in _BODY_TAGS:
            parts = parts[1:]
        parts = [p for p in parts if p not in _MEMBER_STEPS]
    return ".".join(parts) or "body"


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors without their `input` and `ctx`: those may hold a secret."""
    found: list[dict[str, str]] = []
    for error in errors:
        found.append({"field": _field(error.get("loc", ())), "message": str(error.get("msg", ""))})
    return found


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status,
        exc.detail,
        slug=exc.slug,
        headers=exc.headers,
        extra=exc.extra,
        instance=request.url.path,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in raw):
        return problem_response(
            400, "the body is not valid JSON", slug="malformed-json", instance=request.url.path
        )
    errors = validation_errors(raw)
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(
        422,
        summary or "the request is not valid",
        slug="validation-error",
        extra={"errors": errors},
        instance=request.url.path,
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404:
        detail = f"no such resource: {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(exc.status_code, detail, headers=exc.headers, instance=request.url.path)


async def _on_database(request: Request, exc: Exception) -> JSONResponse:
    # The message may name the server, never a secret; log it, answer without it.
    log.error("database unavailable during %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        503,
        "the database is unavailable; try again shortly",
        slug="database-unavailable",
        headers={"Retry-After": "5"},
        instance=request.url.path,
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Log the type and where, not the message: a third-party message may quote input
    # (a pydantic error quotes the value it refused, and that value may be a password).
    log.error(
        "unexpected %s during %s %s\n%s",
        type(exc).__name__,
        request.method,
        request.url.path,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    return problem_response(
        500,
        "an unexpected error occurred on our side; it has been logged",
        slug="internal",
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    """Every error path of the app answers problem+json."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(DatabaseError, _on_database)
    app.add_exception_handler(Exception, _on_unexpected)
