"""CORS for a dashboard served from another origin: only the origins the operator lists.

`SWITCHYARD_CORS_ORIGINS` names each origin exactly (the settings refuse `*`); with none
listed the functions send no CORS headers at all, and a browser page elsewhere cannot read
an answer. Credentials travel as `Authorization: Bearer`, never as cookies, so
`Access-Control-Allow-Credentials` is never sent: a page must hold the token to act.

Preflights are answered before any route, token check or rate limit runs. The headers a
client sends (`Authorization`, `Idempotency-Key`, `Last-Event-ID` for the event stream)
and the ones it must read (`Location` after a 202, `Retry-After`, `Idempotent-Replayed`)
are listed here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from functions.api.openapi import REPLAYED
from functions.api.statuses import LOCATION, RETRY_AFTER

#: The methods the API serves.
METHODS: Final = ("GET", "POST", "PATCH", "DELETE")
#: Request headers a browser page may send.
REQUEST_HEADERS: Final = ("authorization", "content-type", "idempotency-key", "last-event-id")
#: Response headers a browser page may read besides the CORS-safelisted ones.
EXPOSED_HEADERS: Final = (LOCATION, RETRY_AFTER, REPLAYED)
#: How long a browser may cache a preflight's answer, in seconds.
PREFLIGHT_MAX_AGE_S: Final = 600


def install(app: FastAPI, origins: Sequence[str]) -> None:
    """Answer CORS for exactly `origins` (already checked by the settings); none: nothing.

    Outside Starlette's ServerErrorMiddleware, which is otherwise the outermost layer and
    answers an unexpected exception's bare 500 past every middleware added to the app: a
    listed page must be able to read that 500 too, or the browser reports a CORS failure
    instead of the server's error.
    """
    if not origins:
        return
    build_stack = app.build_middleware_stack

    def build_with_cors() -> ASGIApp:
        return CORSMiddleware(
            build_stack(),
            allow_origins=list(origins),
            allow_credentials=False,
            allow_methods=list(METHODS),
            allow_headers=list(REQUEST_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            max_age=PREFLIGHT_MAX_AGE_S,
        )

    app.build_middleware_stack = build_with_cors  # type: ignore[method-assign]
