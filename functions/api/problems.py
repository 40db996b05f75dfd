"""Problems as `application/problem+json` (RFC 9457), and the handlers that render them.

    Problem                  the request ended with an outcome that is not a success
    ├── Unauthorized         no usable access token (the table adds `WWW-Authenticate`)
    ├── NotFound             missing and not-yours look exactly the same
    └── RateLimited          with the `Retry-After` of the caller's window
    HttpProblem              a Problem carried where only an HTTPException passes
                             (FastAPI's body parsing re-raises nothing else)

A Problem names its outcome; functions/api/statuses.py decides its status, its type and the
headers it always carries. A 405 lists in `Allow` every method the path serves, across all
the routes that share it (Starlette lists only the first matching route's).

Every handler here answers with a `detail` a person can act on. Nothing here ever
echoes a request's input back (a rejected field may be a password), and an unexpected
exception answers a bare 500 with no stack trace and no message of its own.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from functions.api.fields import validation_errors
from functions.api.statuses import (
    ALLOW,
    RETRY_AFTER,
    AnyOutcome,
    Outcome,
    answer_of,
    fixed_headers,
)
from switchyard.errors import DatabaseError

log = logging.getLogger("switchyard.functions")

MEDIA_TYPE = "application/problem+json"
#: Problem types are URNs: stable names a client can branch on, no web page behind them.
TYPE_PREFIX = "urn:switchyard:problem:"


class Problem(Exception):  # noqa: N818 - an answer, not only an error
    """The request ended with `outcome`; `detail` says why, for a person to act on."""

    def __init__(
        self,
        outcome: AnyOutcome,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def status(self) -> int:
        return answer_of(self.outcome).status


class Unauthorized(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(Outcome.UNAUTHORIZED, detail)


class NotFound(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(Outcome.NOT_FOUND, detail)


class RateLimited(Problem):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            Outcome.RATE_LIMITED,
            f"too many requests: try again in {retry_after_s} s",
            headers={RETRY_AFTER: str(retry_after_s)},
            extra={"retry_after_s": retry_after_s},
        )


class HttpProblem(StarletteHTTPException):
    """`problem`, raised as an HTTPException."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.status, problem.detail, problem.headers)
        self.problem = problem


def _document(
    status: int,
    slug: str | None,
    detail: str,
    headers: Mapping[str, str],
    extra: Mapping[str, Any] | None,
    instance: str | None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + slug if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=dict(headers), media_type=MEDIA_TYPE)


def problem_response(
    outcome: AnyOutcome,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """The one way a problem document is built: the outcome's status, type and headers."""
    answer = answer_of(outcome)
    return _document(
        answer.status,
        answer.slug,
        detail,
        {**fixed_headers(outcome), **(headers or {})},
        extra,
        instance,
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.outcome,
        exc.detail,
        headers=exc.headers,
        extra=exc.extra,
        instance=request.url.path,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in raw):
        return problem_response(
            Outcome.MALFORMED_JSON, "the body is not valid JSON", instance=request.url.path
        )
    errors = validation_errors(raw)
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(
        Outcome.INVALID,
        summary or "the request is not valid",
        extra={"errors": errors},
        instance=request.url.path,
    )


#: The methods a 405 may list in `Allow`.
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this request's path: each one is tried against
    the app's routes (a route's `matches` is the one public way to ask)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, HttpProblem):
        return await _on_problem(request, exc.problem)
    headers = dict(exc.headers or {})
    path = request.url.path
    if exc.status_code == 404:
        return problem_response(
            Outcome.NO_SUCH_ROUTE, f"no such resource: {path}", headers=headers, instance=path
        )
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        headers[ALLOW] = ", ".join(allowed)
        detail = f"{request.method} is not allowed on {path}; use {' or '.join(allowed)}"
        return problem_response(Outcome.METHOD_NOT_ALLOWED, detail, headers=headers, instance=path)
    # Any other HTTPException is the framework's own: its status, passed on as it decided.
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return _document(exc.status_code, None, detail, headers, None, path)


async def _on_database(request: Request, exc: Exception) -> JSONResponse:
    # The message may name the server, never a secret; log it, answer without it.
    log.error("database unavailable during %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        Outcome.DATABASE_UNAVAILABLE,
        "the database is unavailable; try again shortly",
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
        Outcome.FAULT,
        "an unexpected error occurred on our side; it has been logged",
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    """Every error path of the app answers problem+json."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(DatabaseError, _on_database)
    app.add_exception_handler(Exception, _on_unexpected)
