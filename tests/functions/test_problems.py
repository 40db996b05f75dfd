"""Errors are problem+json with an actionable detail; nothing leaks; bad input writes nothing."""

from __future__ import annotations

import logging

import httpx
import pytest

from functions.app import create_app
from tests.functions.helpers import MT5_PASSWORD, bearer, client_of, mt5_body

pytestmark = pytest.mark.anyio


def is_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


async def test_healthz_needs_no_token_and_checks_the_database(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_healthz_is_503_when_the_database_is_unreachable(api_settings):
    app = create_app(api_settings, conninfo="postgresql://switchyard_functions@127.0.0.1:1/nothing")
    async with client_of(app) as client:
        is_problem(await client.get("/healthz"), 503)


async def test_openapi_and_docs_are_served(client):
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/accounts", "/v1/trades", "/v1/jobs/{job_id}", "/healthz"} <= set(spec["paths"])
    post = spec["paths"]["/v1/trades"]["post"]
    assert {"201", "202", "401", "409", "422", "429"} <= set(post["responses"])
    assert "SupabaseAuth" in spec["components"]["securitySchemes"]
    examples = spec["components"]["schemas"]["OpenTrade"]["examples"]
    assert examples[0]["symbol"] == "EURUSD"
    assert (await client.get("/docs")).status_code == 200


async def test_unknown_route_and_method_are_problems(client, users):
    alice, _ = users
    is_problem(await client.get("/v1/nothing", headers=bearer(alice)), 404)
    is_problem(await client.put("/v1/accounts", headers=bearer(alice)), 405)


async def test_malformed_json_is_400_and_writes_nothing(client, users, db):
    alice, _ = users
    response = await client.post(
        "/v1/accounts",
        content=b'{"kind": "mt5", "login": ',
        headers={**bearer(alice), "content-type": "application/json"},
    )
    is_problem(response, 400)
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 0


async def test_huge_bodies_are_413_before_being_read(client, users, db):
    alice, _ = users
    body = mt5_body(name="x" * 100_000)
    is_problem(await client.post("/v1/accounts", json=body, headers=bearer(alice)), 413)

    async def chunks():  # no Content-Length: counted while read
        for _ in range(100):
            yield b"x" * 1024

    streamed = await client.post(
        "/v1/accounts",
        content=chunks(),
        headers={**bearer(alice), "content-type": "application/json"},
    )
    is_problem(streamed, 413)
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (mt5_body(extra="x"), "extra"),
        (mt5_body(login="abc"), "login"),
        (mt5_body(login=-1), "login"),
        (mt5_body(login=10**30), "login"),
        (mt5_body(name=""), "name"),
        (mt5_body(name="   "), "name"),
        (mt5_body(name="a\x00b"), "name"),
        (mt5_body(name="x" * 101), "name"),
        (mt5_body(server=None), "server"),
        (mt5_body(password=""), "password"),
        (mt5_body(password="x" * 129), "password"),
        (mt5_body(environment="testnet"), "environment"),
        (mt5_body(kind="fx"), "body"),
        (mt5_body(risk_limits={"max_volume": "-1"}), "risk_limits.max_volume"),
        (mt5_body(risk_limits={"max_open_positions": 1}), "risk_limits.max_open_positions"),
        (
            {
                "kind": "exchange",
                "exchange": "okx",
                "name": "x",
                "api_key": "k" * 16,
                "api_secret": "s" * 16,
            },
            "body",
        ),
        (
            {
                "kind": "exchange",
                "exchange": "binance",
                "name": "x",
                "api_key": "k" * 16,
                "api_secret": "s" * 16,
                "passphrase": "p",
            },
            "body",
        ),
        (
            {
                "kind": "exchange",
                "exchange": "kraken",
                "name": "x",
                "api_key": "k" * 16,
                "api_secret": "s" * 16,
            },
            "exchange",
        ),
        (
            {
                "kind": "exchange",
                "exchange": "bybit",
                "name": "x",
                "api_key": "k k" * 8,
                "api_secret": "s" * 16,
            },
            "api_key",
        ),
        ([1, 2, 3], "body"),
    ],
)
async def test_invalid_connect_bodies_are_422_naming_the_field_and_write_nothing(
    client, users, db, body, field
):
    alice, _ = users
    problem = is_problem(await client.post("/v1/accounts", json=body, headers=bearer(alice)), 422)
    assert field in [e["field"] for e in problem["errors"]], problem["errors"]
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 0
    assert db.execute("select count(*) as n from public.jobs").fetchone()["n"] == 0


async def test_a_rejected_password_is_never_echoed(client, users):
    alice, _ = users
    response = await client.post(
        "/v1/accounts", json=mt5_body(password=MT5_PASSWORD + "\x00"), headers=bearer(alice)
    )
    assert response.status_code == 422
    assert MT5_PASSWORD not in response.text
    assert "input" not in response.json()["errors"][0]


async def test_an_unexpected_error_is_a_bare_500_without_trace_or_message(api_settings, caplog):
    app = create_app(api_settings)

    async def boom() -> None:
        raise RuntimeError(f"exploded holding {MT5_PASSWORD}")

    app.add_api_route("/boom", boom)
    async with client_of(app, raise_app_exceptions=False) as client:
        with caplog.at_level(logging.ERROR):
            response = await client.get("/boom")
    body = is_problem(response, 500)
    assert MT5_PASSWORD not in response.text
    assert "Traceback" not in response.text
    assert body["type"] == "urn:switchyard:problem:internal"
    assert MT5_PASSWORD not in caplog.text
    assert "RuntimeError" in caplog.text
