"""Input strictness: no duplicate JSON keys, no coercion that changes meaning, no text that
displays as something else. Each refusal is a 4xx problem+json and changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.functions.helpers import bearer, connected_account, mt5_body

pytestmark = pytest.mark.anyio

BUY = {"symbol": "EURUSD", "side": "buy", "volume": "0.10"}


def counts(db) -> dict[str, int]:
    row = db.execute(
        "select (select count(*) from public.accounts) as accounts,"
        " (select count(*) from public.jobs) as jobs,"
        " (select count(*) from public.audit_log) as audit"
    ).fetchone()
    return dict(row)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict = response.json()
    assert body["detail"]
    return body


# --- duplicate keys --------------------------------------------------------------------

DUPLICATES = [
    (
        "post",
        "/v1/trades",
        '{"symbol": "EURUSD", "side": "buy", "volume": "0.01", "volume": "50"}',
        "volume",
    ),
    (
        "post",
        "/v1/accounts",
        json.dumps(mt5_body(login=777))[:-1]
        + ', "risk_limits": {"max_volume": "0.1", "max_volume": "500"}}',
        "max_volume",
    ),
    ("post", "/v1/accounts", json.dumps(mt5_body())[:-1] + ', "kind": "mt5"}', "kind"),
    ("patch", "/v1/accounts/{id}", '{"is_active": true, "is_active": false}', "is_active"),
    ("patch", "/v1/accounts/{id}", '{"name": "a", "name": "b"}', "name"),
]


@pytest.mark.parametrize(("method", "path", "raw", "key"), DUPLICATES)
async def test_a_key_given_twice_is_400_naming_the_key_and_changes_nothing(
    client, users, verdicts, db, method, path, raw, key
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    before = counts(db)
    response = await client.request(
        method,
        path.format(id=account["id"]),
        content=raw.encode(),
        headers={**bearer(alice), "content-type": "application/json"},
    )
    body = problem(response, 400)
    assert body["type"] == "urn:switchyard:problem:duplicate-key"
    assert body["key"] == key
    assert f'"{key}"' in body["detail"]
    for value in ('"50"', "500", "false", '"b"'):
        assert value not in body["detail"]
    assert counts(db) == before
    unchanged = (await client.get(f"/v1/accounts/{account['id']}", headers=bearer(alice))).json()
    assert unchanged["name"] == account["name"]
    assert unchanged["is_active"] is True


async def test_every_documented_request_body_refuses_duplicate_keys(client, users, verdicts, db):
    """Walks the OpenAPI: no operation that reads a JSON body lets the last key win."""
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    spec = (await client.get("/openapi.json")).json()
    with_body = [
        (method, path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(with_body) == 9, with_body
    nowhere = "00000000-0000-0000-0000-000000000000"  # the body is refused before any lookup
    for method, path in with_body:
        response = await client.request(
            method,
            path.replace("{account_id}", account["id"])
            .replace("{channel_id}", nowhere)
            .replace("{subscription_id}", nowhere),
            content=b'{"name": "x", "name": "y"}',
            headers={**bearer(alice), "content-type": "application/json"},
        )
        assert problem(response, 400)["key"] == "name", (method, path)


async def test_a_body_without_duplicates_still_works_and_malformed_json_is_still_400(
    client, users, verdicts
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    renamed = await client.patch(
        f"/v1/accounts/{account['id']}",
        content=b'{"name": "same key in two objects", "risk_limits": {"name": 1}}',
        headers={**bearer(alice), "content-type": "application/json"},
    )
    assert problem(renamed, 422)["errors"][0]["field"] == "risk_limits.name"
    broken = await client.patch(
        f"/v1/accounts/{account['id']}",
        content=b'{"name": ',
        headers={**bearer(alice), "content-type": "application/json"},
    )
    assert problem(broken, 400)["type"] == "urn:switchyard:problem:malformed-json"


# --- strict types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (mt5_body(login=True), "login"),
        (mt5_body(login=51234567.0), "login"),
        (mt5_body(login="51234567"), "login"),
        (mt5_body(make_default="yes"), "make_default"),
        (mt5_body(make_default=1), "make_default"),
    ],
)
async def test_connect_takes_integers_and_booleans_only_as_json_has_them(
    client, users, db, body, field
):
    alice, _ = users
    response = await client.post("/v1/accounts", json=body, headers=bearer(alice))
    assert [e["field"] for e in problem(response, 422)["errors"]] == [field]
    assert counts(db)["accounts"] == 0


@pytest.mark.parametrize("value", ["yes", "false", 1, 0, None])
async def test_is_active_is_a_json_boolean_or_nothing(client, users, verdicts, db, value):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    response = await client.patch(
        f"/v1/accounts/{account['id']}",
        json={"name": "renamed", "is_active": value},
        headers=bearer(alice),
    )
    if value is None:  # null: not given
        assert response.status_code == 200, response.text
        return
    assert [e["field"] for e in problem(response, 422)["errors"]] == ["is_active"]
    row = db.execute("select name, is_active from public.accounts").fetchone()
    assert (row["name"], row["is_active"]) == (account["name"], True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BUY, "deviation": True}, "deviation"),
        ({**BUY, "deviation": 20.0}, "deviation"),
        ({**BUY, "deviation": "20"}, "deviation"),
        ({"action": "close", "position": "1", "deviation": False}, "deviation"),
    ],
)
async def test_trade_integers_are_not_taken_from_booleans_floats_or_strings(
    client, users, verdicts, db, body, field
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    response = await client.post("/v1/trades", json=body, headers=bearer(alice))
    assert [e["field"] for e in problem(response, 422)["errors"]] == [field]
    assert (
        db.execute("select count(*) as n from public.jobs where kind <> 'verify'").fetchone()["n"]
        == 0
    )


async def test_volumes_and_prices_still_take_decimal_strings_and_numbers(
    client, users, verdicts, db
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    for body in (
        {**BUY, "volume": "0.10", "sl": "1.0750"},
        {**BUY, "volume": 0.1, "tp": 1.2},
        {**BUY, "deviation": 15},
    ):
        response = await client.post(
            "/v1/trades", params={"wait": 0}, json=body, headers=bearer(alice)
        )
        assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "before",
    ["1700000000", "1700000000.5", "2026-01-01T00:00:00", "2026-01-01", "yesterday", ""],
)
async def test_a_date_comes_only_from_an_iso_8601_string_with_its_offset(client, users, before):
    alice, _ = users
    response = await client.get("/v1/trades", params={"before": before}, headers=bearer(alice))
    errors = problem(response, 422)["errors"]
    assert [e["field"] for e in errors] == ["query.before"]
    assert "ISO 8601" in errors[0]["message"]


@pytest.mark.parametrize(
    "before", ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456+02:00", "2026-01-01 10:00+0100"]
)
async def test_iso_8601_dates_with_an_offset_are_taken(client, users, before):
    alice, _ = users
    response = await client.get("/v1/trades", params={"before": before}, headers=bearer(alice))
    assert response.status_code == 200, response.text


# --- text that displays as something else --------------------------------------------------

BIDI = [
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
]


@pytest.mark.parametrize("char", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
async def test_names_refuse_bidirectional_controls_saying_so(client, users, db, char):
    alice, _ = users
    for body, field in (
        (mt5_body(name=f"Main{char}1gp"), "name"),
        (mt5_body(broker=f"FT{char}MO"), "broker"),
        (mt5_body(server=f"Meta{char}Quotes"), "server"),
    ):
        response = await client.post("/v1/accounts", json=body, headers=bearer(alice))
        errors = problem(response, 422)["errors"]
        assert [e["field"] for e in errors] == [field]
        assert "bidirectional control characters" in errors[0]["message"]
    assert counts(db)["accounts"] == 0


async def test_renames_and_trade_comments_refuse_bidirectional_controls(
    client, users, verdicts, db
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    renamed = await client.patch(
        f"/v1/accounts/{account['id']}", json={"name": "exe.\u202etxt"}, headers=bearer(alice)
    )
    assert "bidirectional" in problem(renamed, 422)["errors"][0]["message"]
    trade = await client.post(
        "/v1/trades", json={**BUY, "comment": "buy \u2066sell\u2069"}, headers=bearer(alice)
    )
    assert "bidirectional" in problem(trade, 422)["errors"][0]["message"]
    assert (
        db.execute("select count(*) as n from public.jobs where kind = 'order'").fetchone()["n"]
        == 0
    )


@pytest.mark.parametrize("char", ["\x00", "\n", "\x1b", "\u2028", "\u2029"])
async def test_names_refuse_control_characters_saying_so(client, users, db, char):
    alice, _ = users
    response = await client.post(
        "/v1/accounts", json=mt5_body(name=f"a{char}b"), headers=bearer(alice)
    )
    errors = problem(response, 422)["errors"]
    assert "control characters are not allowed" in errors[0]["message"]
    assert counts(db)["accounts"] == 0


async def test_ordinary_unicode_names_are_fine(client, users, verdicts):
    alice, _ = users
    account = await connected_account(client, verdicts, alice, name="Compte principal — 日本 👍🏽")
    assert account["name"] == "Compte principal — 日本 👍🏽"
