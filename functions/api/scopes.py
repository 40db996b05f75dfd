"""What an API token may reach: every route declares the scope it needs, in one place.

    @router.get("", **documented(Outcome.DONE, *AUTHENTICATED, scope=Scope.READ))

`documented()` (functions/api/openapi.py) requires the `scope` keyword and records it on
the route (`openapi_extra`, shown in the OpenAPI document as `x-api-token-scope`); the
caller's dependency (functions/api/deps.py) reads it back from the matched route. A route
that declares nothing refuses every API token, and tests/functions/test_scopes.py fails
for any route of the app without a declaration.

    Scope.READ, .TRADE, .ACCOUNTS   an API token with that scope may call it
    Scope.SESSION                   a signed-in session only: API tokens are refused
    Scope.PUBLIC                    no authentication at all (/healthz, webhooks)

A signed-in session (a Supabase Auth access token) may call every route but the public
ones need nothing; scopes limit API tokens only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from typing import Any, Final

from fastapi.routing import APIRoute

#: Where the declaration is kept on a route (`APIRoute.openapi_extra`).
SCOPE_KEY: Final = "x-api-token-scope"


class Scope(enum.StrEnum):
    READ = "read"  #: read your accounts, trades, jobs (GET)
    TRADE = "trade"  #: place, close, modify and cancel trades
    ACCOUNTS = "accounts"  #: connect, change, switch, verify and delete accounts
    SESSION = "session"  #: not for API tokens: a signed-in session only
    PUBLIC = "public"  #: no authentication


#: The scopes an API token can be given.
GRANTABLE: Final = (Scope.READ, Scope.TRADE, Scope.ACCOUNTS)


def declared_scope(route: Any) -> Scope | None:
    """The scope `route` declared, or None (then API tokens are refused)."""
    extra = getattr(route, "openapi_extra", None) or {}
    value = extra.get(SCOPE_KEY)
    try:
        return Scope(value) if value is not None else None
    except ValueError:
        return None


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute under `routes` (an app's or a router's), through included routers
    (FastAPI keeps an included router whole, as `original_router`) and mounts."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from api_routes(router.routes)
        elif (children := getattr(route, "routes", None)) is not None:
            yield from api_routes(children)
