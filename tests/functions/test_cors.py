"""CORS for a dashboard on another origin: exactly the listed origins, never `*`."""

from __future__ import annotations

import pytest

from functions.app import create_app
from switchyard.errors import ConfigError
from switchyard.settings import load_settings
from tests.functions.helpers import bearer, client_of

pytestmark = pytest.mark.anyio

DASHBOARD = "https://dash.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


async def test_a_listed_origin_may_send_the_api_headers_and_read_the_answers(make_client, users):
    alice, _ = users
    client = await make_client(cors_origins=(DASHBOARD, "http://127.0.0.1:8080"))
    preflight = await client.options("/v1/trades", headers={"Origin": DASHBOARD, **PREFLIGHT})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD
    allowed = {
        h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "idempotency-key", "last-event-id"} <= allowed
    assert "access-control-allow-credentials" not in preflight.headers  # bearer tokens only
    listed = await client.get("/v1/accounts", headers={"Origin": DASHBOARD, **bearer(alice)})
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == DASHBOARD
    exposed = {
        h.strip().lower() for h in listed.headers["access-control-expose-headers"].split(",")
    }
    assert {"location", "retry-after", "idempotent-replayed"} <= exposed
    # a problem is readable too: the page shows its detail
    refused = await client.get("/v1/accounts", headers={"Origin": DASHBOARD})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == DASHBOARD


async def test_another_origin_gets_no_cors_headers(make_client, users):
    alice, _ = users
    client = await make_client(cors_origins=(DASHBOARD,))
    preflight = await client.options(
        "/v1/trades", headers={"Origin": "https://evil.example", **PREFLIGHT}
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    listed = await client.get(
        "/v1/accounts", headers={"Origin": "https://evil.example", **bearer(alice)}
    )
    assert "access-control-allow-origin" not in listed.headers


async def test_without_listed_origins_there_is_no_cors_at_all(client, users):
    alice, _ = users
    listed = await client.get("/v1/accounts", headers={"Origin": DASHBOARD, **bearer(alice)})
    assert listed.status_code == 200
    assert not [h for h in listed.headers if h.startswith("access-control-")]
    preflight = await client.options("/v1/trades", headers={"Origin": DASHBOARD, **PREFLIGHT})
    assert preflight.status_code == 405  # no CORS: OPTIONS is just another method


@pytest.mark.parametrize(
    "value",
    ["*", "https://*.example.com", "https://dash.example.com/", "dash.example.com", "ftp://x.y"],
)
def test_a_wildcard_or_anything_but_an_origin_is_refused_at_start(monkeypatch, value):
    monkeypatch.setenv("SWITCHYARD_CORS_ORIGINS", value)
    with pytest.raises(ConfigError, match="SWITCHYARD_CORS_ORIGINS") as caught:
        load_settings()
    assert "origin" in str(caught.value)


def test_origins_are_read_as_browsers_send_them(monkeypatch):
    monkeypatch.setenv(
        "SWITCHYARD_CORS_ORIGINS", " https://Dash.Example.com , http://127.0.0.1:8080,"
    )
    assert load_settings().cors_origins == ("https://dash.example.com", "http://127.0.0.1:8080")


async def test_an_unexpected_500_is_readable_by_a_listed_origin(api_settings):
    # Starlette answers an unexpected exception outside every middleware added to the app;
    # CORS must wrap even that, or a listed page sees a CORS failure instead of the 500.
    app = create_app(api_settings.model_copy(update={"cors_origins": (DASHBOARD,)}))

    @app.get("/test-boom")
    async def boom() -> None:
        raise RuntimeError("an unexpected failure")

    async with client_of(app, raise_app_exceptions=False) as client:
        answer = await client.get("/test-boom", headers={"Origin": DASHBOARD})
        assert answer.status_code == 500
        assert answer.headers["access-control-allow-origin"] == DASHBOARD
        assert "unexpected failure" not in answer.text
        other = await client.get("/test-boom", headers={"Origin": "https://evil.example"})
        assert other.status_code == 500
        assert "access-control-allow-origin" not in other.headers
