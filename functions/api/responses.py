"""The error answers every endpoint documents in OpenAPI (all application/problem+json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


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


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "model": ProblemOut,
        "content": {"application/problem+json": {}},
    }


#: Every authenticated endpoint.
ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("No valid access token."),
    404: _problem("Not found, or not yours (the two are indistinguishable)."),
    422: _problem("The request is invalid; `errors` names the fields."),
    429: _problem("Rate limited; see Retry-After."),
}
#: Endpoints that wait for the worker's verdict.
WITH_VERDICT: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: _problem("Conflicts with the account's state or an existing account."),
    422: _problem("Invalid request, or refused by the venue (`code` says why)."),
    503: _problem("The venue or the database is unavailable; see Retry-After."),
}
