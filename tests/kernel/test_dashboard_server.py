"""`switchyard dashboard`: the static files, their config, and the headers a host must send."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from switchyard.dashboard import build_app, write_config
from switchyard.errors import ConfigError

CONFIG = {
    "supabase_url": "http://127.0.0.1:54321",
    "anon_key": "anon.jwt.key",
    "functions_url": "http://127.0.0.1:8000",
}


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def served(config: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(config))
    async with httpx.AsyncClient(transport=transport, base_url="http://dashboard.test") as client:
        yield client


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path / "dashboard" / "config.json", **CONFIG)


async def test_the_page_its_config_and_the_policy_that_names_only_the_two_apis(config):
    async with served(config) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert '<script type="module" src="js/main.js">' in page.text
        policy = page.headers["content-security-policy"]
        assert "connect-src 'self' http://127.0.0.1:54321 http://127.0.0.1:8000;" in policy
        assert "script-src 'self';" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/config.json")).json() == CONFIG
        assert (await client.get("/vendor/supabase-js/supabase.js")).status_code == 200
        assert (await client.get("/nothing-here.js")).status_code == 404


async def test_a_rewritten_config_is_served_and_allowed_at_once(config):
    async with served(config) as client:
        config.write_text(json.dumps({**CONFIG, "functions_url": "https://api.example.com/base"}))
        served_now = (await client.get("/config.json")).json()
        assert served_now["functions_url"] == "https://api.example.com/base"
        policy = (await client.get("/")).headers["content-security-policy"]
        assert "https://api.example.com;" in policy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"anon_key": None}, "lacks anon_key"),
        ({"functions_url": "javascript:alert(1)"}, "functions_url is not an http"),
        ({"supabase_url": "127.0.0.1:54321"}, "supabase_url is not an http"),
    ],
)
def test_a_broken_config_stops_the_server_before_it_serves(tmp_path, change, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({k: v for k, v in {**CONFIG, **change}.items() if v is not None}))
    with pytest.raises(ConfigError, match=message) as caught:
        build_app(path)
    assert "anon.jwt.key" not in str(caught.value)
