"""The OpenAPI document, derived from the outcome table: what it says is what is answered.

Each route declares the outcomes it can end with (`documented(...)`); its `status_code`
and `responses` come from functions/api/statuses.py, so an endpoint lists exactly the
statuses its outcomes are answered with, and each status the headers those answers
carry. tests/functions/test_openapi.py provokes every status listed. Another user's
resource is a 404, a token that is not a user's a 401; 403 is an API token outside its
scopes, or a session without the second factor its user has (functions/api/scopes.py).
Each route also declares the API-token scope it needs (`scope=`, required).

Every error is `application/problem+json` with the `ProblemOut` schema: FastAPI puts a
response `model` under `application/json`, so `install` rewrites each error response to
exactly one media type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from functions.api.problems import MEDIA_TYPE
from functions.api.scopes import SCOPE_KEY, Scope
from functions.api.statuses import (
    ALLOW,
    LOCATION,
    RETRY_AFTER,
    WWW_AUTHENTICATE,
    AnyOutcome,
    Outcome,
    answer_of,
    status_of,
)

REPLAYED: Final = "Idempotent-Replayed"


class ProblemOut(BaseModel):
    """RFC 9457 problem details; `errors` names each invalid field."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:switchyard:problem:no-money",
                    "title": "Unprocessable Content",
                    "status": 422,
                    "detail": "not enough money: free margin 12.40 USD",
                    "code": "no_money",
                }
            ]
        },
    )
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


#: What each header means wherever it is sent; an endpoint may say more.
HEADERS: Final[Mapping[str, str]] = {
    LOCATION: "The job to poll: `/v1/jobs/{id}`.",
    RETRY_AFTER: "Seconds to wait before trying again.",
    WWW_AUTHENTICATE: '`Bearer error="invalid_token"`',
    REPLAYED: "`true` when this is the first answer to the same Idempotency-Key, given again.",
}
#: What each status means wherever it is answered; an endpoint may say more.
MEANING: Final[Mapping[int, str]] = {
    202: "The worker has not answered yet: poll `Location`.",
    400: "The body is not valid JSON or repeats a key (`key` names it).",
    401: "No valid access token (see WWW-Authenticate).",
    403: "An API token whose scopes do not include what this endpoint needs "
    "(`x-api-token-scope`), or one used where only a signed-in session is accepted.",
    404: "Not found, or not yours (the two are indistinguishable).",
    409: "Conflicts with the account's state.",
    413: "The request body is larger than SWITCHYARD_MAX_BODY_BYTES; nothing was read.",
    422: "The request is invalid (`errors` names the fields), or the venue refused it "
    "(`code` says why).",
    429: "Rate limited; see Retry-After.",
    500: "The worker hit a fault on our side (`code` internal); it has been logged.",
    503: "The database or the venue is unavailable; see Retry-After.",
}


class StatusDoc(dict[str, Any]):
    """One status of an endpoint as FastAPI documents it, and the outcomes behind it."""

    def __init__(self, outcomes: Iterable[AnyOutcome]) -> None:
        super().__init__()
        self.outcomes = tuple(outcomes)


def documented(
    success: Outcome,
    *outcomes: AnyOutcome,
    scope: Scope,
    say: Mapping[int, str] | None = None,
    models: Mapping[int, type[BaseModel]] | None = None,
    headers: Mapping[int, Mapping[str, str]] | None = None,
    replayed: Iterable[AnyOutcome] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A route's `status_code` and `responses`, for a route ending with `success` (its main
    answer, the `response_model`) or any of `outcomes`; and the API-token `scope` it needs
    (functions/api/scopes.py), kept in its `openapi_extra`.

    `say` describes a status for this endpoint (else `MEANING`), `models` gives another
    success status its body model (a 202's), `headers` describes a header of a status for
    this endpoint (else `HEADERS`); the answers of `replayed` outcomes may be the replay of
    an Idempotency-Key's first answer. Each names only statuses the outcomes are answered
    with: describing one they are not is refused at import. `extra` is more of the
    operation's `openapi_extra` (a request body FastAPI cannot infer).
    """
    say, models, headers = say or {}, models or {}, headers or {}
    main = status_of(success)
    by_status: dict[int, list[AnyOutcome]] = {}
    for outcome in (success, *outcomes):
        by_status.setdefault(status_of(outcome), []).append(outcome)
    stray = (set(say) | set(models) | set(headers)) - set(by_status)
    if stray:
        raise ValueError(f"documented statuses no outcome is answered with: {sorted(stray)}")
    replays = set(replayed)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, said in sorted(by_status.items()):
        doc = StatusDoc(said)
        if status in say or status != main:
            doc["description"] = say.get(status) or MEANING[status]
        if status >= 400:
            doc["model"] = ProblemOut
        elif status in models:
            doc["model"] = models[status]
        names = [name for o in said for name in answer_of(o).headers if name != ALLOW]
        names += [REPLAYED] if replays.intersection(said) else []
        if names:
            here = headers.get(status, {})
            doc["headers"] = {name: _header(here.get(name, HEADERS[name])) for name in names}
        responses[status] = doc
    openapi_extra = {**(extra or {}), SCOPE_KEY: scope.value}
    return {"status_code": main, "responses": responses, "openapi_extra": openapi_extra}


_PROBLEM_SCHEMA = {"$ref": "#/components/schemas/ProblemOut"}


def problem_json_only(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite, in place, the content of every 4xx/5xx response (idempotent)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = {MEDIA_TYPE: {"schema": _PROBLEM_SCHEMA}}
    return document


def install(app: FastAPI) -> None:
    """`app.openapi()` (and /openapi.json, /docs) serve the rewritten document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return problem_json_only(generate())

    app.openapi = openapi  # type: ignore[method-assign]
