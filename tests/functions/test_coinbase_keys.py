"""Coinbase accounts: a CDP key's name and its EC private key in PEM, checked before anything
is stored, sealed like every secret, masked, and never echoed in any answer."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.functions.helpers import bearer

pytestmark = pytest.mark.anyio

KEY_NAME = "organizations/1f0e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/apiKeys/9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4"


def _pem(key: Any, encryption: Any = None, public: bool = False) -> str:
    if public:
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
    form = (
        serialization.PrivateFormat.PKCS8
        if isinstance(key, ed25519.Ed25519PrivateKey)
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    return key.private_bytes(
        serialization.Encoding.PEM, form, encryption or serialization.NoEncryption()
    ).decode()


P256 = ec.generate_private_key(ec.SECP256R1())
PEM = _pem(P256)


def coinbase_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "exchange",
        "exchange": "coinbase",
        "name": "Coinbase",
        "api_key": KEY_NAME,
        "api_secret": PEM,
        "environment": "live",
    }
    body.update(overrides)
    return body


async def test_a_cdp_key_connects_masked_and_sealed_to_its_account(
    client, users, verdicts, db, vault
):
    alice, _ = users
    response, job = await asyncio.gather(
        client.post("/v1/accounts", json=coinbase_body(), headers=bearer(alice)),
        verdicts.verify_next(),
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert (account["venue"], account["kind"]) == ("coinbase", "exchange")
    assert account["api_key"] == f"orga…{KEY_NAME[-4:]}"
    assert "PRIVATE KEY" not in response.text
    assert job["venue"] == "coinbase"
    row = db.execute(
        "select ciphertext from private.account_secrets where account_id = %s", (account["id"],)
    ).fetchone()
    assert vault.open(UUID(account["id"]), row["ciphertext"]) == {
        "api_key": KEY_NAME,
        "api_secret": PEM,
    }


@pytest.mark.parametrize(
    "pasted",
    [
        PEM.strip().replace("\n", "\\n"),  # literal \n, as in a .env file
        PEM.replace("\n", ""),  # one line: a browser's password field drops line breaks
        PEM.replace("\n", " "),  # line breaks turned into spaces
    ],
)
async def test_a_pem_whose_line_breaks_a_paste_lost_is_stored_with_them(
    client, users, verdicts, db, vault, pasted
):
    alice, _ = users
    flattened = pasted
    response, _ = await asyncio.gather(
        client.post(
            "/v1/accounts", json=coinbase_body(api_secret=flattened), headers=bearer(alice)
        ),
        verdicts.verify_next(),
    )
    assert response.status_code == 201, response.text
    row = db.execute("select ciphertext from private.account_secrets").fetchone()
    assert vault.open(UUID(response.json()["id"]), row["ciphertext"])["api_secret"] == PEM


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("api_key", "my-coinbase-api-key-123", "organizations/{org_id}/apiKeys/{key_id}"),
        ("api_key", PEM.replace("\n", ""), "is a key in PEM"),
        ("api_secret", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=", "starting with -----BEGIN EC PRIVATE KEY"),
        ("api_secret", _pem(P256, public=True), "this is a public key"),
        ("api_secret", PEM[:120] + PEM[-30:], "not a readable PEM private key"),
        ("api_secret", _pem(ed25519.Ed25519PrivateKey.generate()), "Ed25519"),
        ("api_secret", _pem(ec.generate_private_key(ec.SECP384R1())), "P-256"),
        (
            "api_secret",
            _pem(P256, serialization.BestAvailableEncryption(b"passphrase-1")),
            "encrypted",
        ),
    ],
)
async def test_a_malformed_cdp_key_is_422_naming_what_is_wrong_and_keeps_nothing(
    client, users, db, field, value, says
):
    alice, _ = users
    response = await client.post(
        "/v1/accounts", json=coinbase_body(**{field: value}), headers=bearer(alice)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == [field]
    assert says in problem["detail"]
    for line in value.splitlines():
        if len(line) > 12:
            assert line not in response.text  # never echoed
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 0


async def test_other_exchanges_still_refuse_spaces_in_a_secret(client, users, db):
    alice, _ = users
    body = coinbase_body(exchange="binance", api_key="A" * 64, api_secret="has a space in it")
    response = await client.post("/v1/accounts", json=body, headers=bearer(alice))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors == [
        {"field": "api_secret", "message": "Value error, must not contain spaces or line breaks"}
    ]


async def test_new_credentials_of_a_coinbase_account_are_checked_against_its_key_shape(
    client, users, verdicts, db, vault
):
    alice, _ = users
    created, _ = await asyncio.gather(
        client.post("/v1/accounts", json=coinbase_body(), headers=bearer(alice)),
        verdicts.verify_next(),
    )
    account = created.json()
    before = db.execute("select ciphertext from private.account_secrets").fetchone()
    bad = {"api_key": KEY_NAME, "api_secret": "not-a-pem-at-all"}
    refused = await client.patch(
        f"/v1/accounts/{account['id']}",
        json={"name": "Renamed", "credentials": bad},
        headers=bearer(alice),
    )
    assert refused.status_code == 422, refused.text
    assert "credentials.api_secret" in refused.json()["detail"]
    assert db.execute("select ciphertext from private.account_secrets").fetchone() == before
    assert db.execute("select name from public.accounts").fetchone()["name"] == "Coinbase"
    fresh = _pem(ec.generate_private_key(ec.SECP256R1()))
    changed, _ = await asyncio.gather(
        client.patch(
            f"/v1/accounts/{account['id']}",
            json={"credentials": {"api_key": KEY_NAME, "api_secret": fresh}},
            headers=bearer(alice),
        ),
        verdicts.verify_next(),
    )
    assert changed.status_code == 200, changed.text
    after = db.execute("select ciphertext from private.account_secrets").fetchone()["ciphertext"]
    assert vault.open(UUID(account["id"]), after)["api_secret"] == fresh


async def test_coinbase_has_no_testnet(client, users, db):
    alice, _ = users
    body = coinbase_body(environment="testnet")
    response = await client.post("/v1/accounts", json=body, headers=bearer(alice))
    assert response.status_code == 422
    assert "no testnet, no demo): set environment to live" in response.json()["detail"]
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 0
