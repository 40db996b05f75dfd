"""Idempotency-Key on POST /v1/trades, per draft-ietf-httpapi-idempotency-key-header."""

from __future__ import annotations

import asyncio

import pytest

from tests.functions.helpers import BUY, bearer, connected_account, fill_for

pytestmark = pytest.mark.anyio


def keyed(user, key='"7f0c5a1e-1d1b-4d4e-9a51-2f1f1c9f1e01"'):
    return {**bearer(user), "idempotency-key": key}


async def orders(db):
    return db.execute("select count(*) as n from public.jobs where kind = 'order'").fetchone()["n"]


async def test_same_key_and_body_replays_the_answer_without_a_second_job(
    client, users, verdicts, db
):
    alice, _ = users
    await connected_account(client, verdicts, alice)

    async def worker_fills():
        job = await verdicts.next_queued("order")
        await verdicts.succeed(job, fill_for(job))

    first, _ = await asyncio.gather(
        client.post("/v1/trades", json=BUY, headers=keyed(alice)), worker_fills()
    )
    assert first.status_code == 201
    # the same request, spelled differently (field order, bare key, number form)
    again = await client.post(
        "/v1/trades",
        json={"volume": "0.1", "side": "buy", "symbol": "EURUSD"},
        headers=keyed(alice, "7f0c5a1e-1d1b-4d4e-9a51-2f1f1c9f1e01"),
    )
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["fill"] == first.json()["fill"]
    assert await orders(db) == 1


async def test_same_key_replays_a_refusal_too(client, users, verdicts, db):
    alice, _ = users
    await connected_account(client, verdicts, alice)

    async def refuse():
        job = await verdicts.next_queued("order")
        await verdicts.fail(job, "market_closed", "the market is closed")

    first, _ = await asyncio.gather(
        client.post("/v1/trades", json=BUY, headers=keyed(alice)), refuse()
    )
    again = await client.post("/v1/trades", json=BUY, headers=keyed(alice))
    assert (first.status_code, again.status_code) == (422, 422)
    assert again.json()["detail"] == first.json()["detail"] == "the market is closed"
    assert await orders(db) == 1


async def test_same_key_with_a_different_body_is_422(client, users, verdicts, db):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    first = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=keyed(alice))
    assert first.status_code == 202
    other = await client.post("/v1/trades", json={**BUY, "volume": "0.20"}, headers=keyed(alice))
    assert other.status_code == 422
    assert other.json()["type"] == "urn:switchyard:problem:idempotency-key-reused"
    assert await orders(db) == 1


async def test_same_key_while_the_first_is_still_processing_is_409(client, users, verdicts, db):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    first = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=keyed(alice))
    again = await client.post("/v1/trades", json=BUY, headers=keyed(alice))
    assert again.status_code == 409
    assert again.headers["location"] == first.headers["location"]
    assert await orders(db) == 1


async def test_concurrent_requests_with_one_key_make_one_job(client, users, verdicts, db):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    answers = await asyncio.gather(
        *(
            client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=keyed(alice))
            for _ in range(5)
        )
    )
    assert sorted(a.status_code for a in answers) == [202, 409, 409, 409, 409]
    assert await orders(db) == 1


async def test_keys_are_per_user(client, users, verdicts, db):
    alice, bob = users
    await connected_account(client, verdicts, alice)
    await connected_account(client, verdicts, bob)
    a = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=keyed(alice))
    b = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=keyed(bob))
    assert (a.status_code, b.status_code) == (202, 202)
    assert a.json()["job"]["id"] != b.json()["job"]["id"]


@pytest.mark.parametrize("key", [b'""', b'"a\\"b"', b"x" * 256, "caf\u00e9".encode("latin-1")])
async def test_malformed_keys_are_400(client, users, verdicts, db, key):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    response = await client.post(
        "/v1/trades", json=BUY, headers={**bearer(alice), "idempotency-key": key}
    )
    assert response.status_code == 400
    assert await orders(db) == 0
