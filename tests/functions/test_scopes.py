"""Every route declares the API-token scope it needs; one that does not refuses API tokens.

A route added without `scope=` fails here (and `documented()` refuses to be called without
it), so the scope check cannot be forgotten on a new endpoint.
"""

from __future__ import annotations

from typing import Any

import pytest

from functions.api.deps import UserDb
from functions.api.scopes import SCOPE_KEY, Scope, api_routes, declared_scope
from functions.app import create_app
from tests.functions.helpers import bearer, client_of

pytestmark = pytest.mark.anyio


def test_every_route_of_the_app_declares_its_scope(api_settings):
    app = create_app(api_settings)
    routes = list(api_routes(app.routes))
    assert len(routes) >= 14
    assert {"/healthz", "/v1/accounts", "/v1/trades", "/v1/api-tokens"} <= {r.path for r in routes}
    undeclared = [
        f"{sorted(route.methods)} {route.path}" for route in routes if declared_scope(route) is None
    ]
    assert undeclared == []


async def test_the_openapi_document_names_each_operations_scope(client):
    spec = (await client.get("/openapi.json")).json()
    scopes = {
        (method, path): operation.get(SCOPE_KEY)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    assert scopes[("get", "/healthz")] == "public"
    assert scopes[("get", "/v1/accounts")] == "read"
    assert scopes[("post", "/v1/accounts")] == "accounts"
    assert scopes[("post", "/v1/trades")] == "trade"
    assert scopes[("post", "/v1/api-tokens")] == "session"
    assert scopes[("delete", "/v1/api-tokens/{token_id}")] == "session"
    assert set(scopes.values()) <= {s.value for s in Scope}


def test_documented_cannot_be_called_without_a_scope():
    from functions.api.openapi import documented
    from functions.api.statuses import Outcome

    with pytest.raises(TypeError, match="scope"):
        documented(Outcome.DONE)  # type: ignore[call-arg]


async def test_a_route_that_declares_no_scope_refuses_api_tokens(api_settings, users):
    alice, _ = users
    app = create_app(api_settings)

    @app.get("/v1/undeclared")
    async def undeclared(db: UserDb) -> dict[str, Any]:
        async with db.transaction() as cur:
            await cur.execute("select count(*) as n from public.accounts")
            row = await cur.fetchone()
        return {"n": row["n"] if row else None}

    async with client_of(app) as client:
        made = await client.post(
            "/v1/api-tokens",
            json={"name": "all", "scopes": ["read", "trade", "accounts"]},
            headers=bearer(alice),
        )
        token = {"authorization": f"Bearer {made.json()['token']}"}
        assert (await client.get("/v1/undeclared", headers=bearer(alice))).status_code == 200
        refused = await client.get("/v1/undeclared", headers=token)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert "does not accept API tokens" in refused.json()["detail"]
