"""What the database refused, as HTTP: the one table from SQLSTATE to status.

Our SECURITY DEFINER functions raise with the codes below and a message written for
the user (it names an account id or a state, never a secret), so that message becomes
the `detail`. Any other refusal answers without the server's message.
"""

from __future__ import annotations

from typing import Final

import psycopg

from functions.api.problems import NotFound, Problem

#: SQLSTATE → (status, problem slug, whether the server's message is ours to show).
SQLSTATE_STATUS: Final[dict[str, tuple[int, str, bool]]] = {
    "P0002": (404, "not-found", True),  # private.own_account: not yours or missing
    "SW409": (409, "conflict", True),  # the account's state forbids it
    "SW422": (422, "unprocessable", True),  # not acceptable as it is
    "23505": (409, "conflict", False),  # a unique index won a race (duplicate account)
    "23514": (422, "unprocessable", False),  # a check constraint (the models should catch it)
    "22001": (422, "unprocessable", False),  # a value too long for its column
    "42501": (404, "not-found", False),  # RLS refused: indistinguishable from missing
    "28000": (401, "unauthorized", False),  # no authenticated user in the claims
    "40001": (503, "retry", False),  # serialization failure: safe to retry
    "40P01": (503, "retry", False),  # deadlock: safe to retry
}

_GENERIC: Final[dict[int, str]] = {
    401: "the access token does not name a user",
    404: "not found",
    409: "this conflicts with an existing resource",
    422: "the request breaks a rule of the schema",
    503: "the database was busy; try again",
}


def problem_from(exc: psycopg.Error) -> Problem | None:
    """The answer for a database refusal we know; None for anything else."""
    sqlstate = exc.sqlstate or ""
    if sqlstate not in SQLSTATE_STATUS:
        return None
    status, slug, ours = SQLSTATE_STATUS[sqlstate]
    detail = _GENERIC[status]
    if ours and exc.diag.message_primary:
        detail = exc.diag.message_primary
    if status == 404:
        return NotFound(detail)
    headers = {"Retry-After": "1"} if status == 503 else None
    return Problem(detail, status=status, slug=slug, headers=headers)
