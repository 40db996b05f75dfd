"""Per-user rate limits held in the database, shared by every function process."""

from __future__ import annotations

import pytest
from api_helpers import bearer, mt5_body

pytestmark = pytest.mark.anyio


async def test_the_limit_holds_across_two_app_instances(make_client, users):
    alice, bob = users
    first = await make_client(rate_limit_per_minute=6)
    second = await make_client(rate_limit_per_minute=6)
    answers = []
    for i in range(6):
        instance = first if i % 2 == 0 else second
        answers.append((await instance.get("/v1/accounts", headers=bearer(alice))).status_code)
    assert answers == [200] * 6
    refused = await second.get("/v1/accounts", headers=bearer(alice))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 120
    assert (await first.get("/v1/accounts", headers=bearer(alice))).status_code == 429
    # another user has their own budget
    assert (await first.get("/v1/accounts", headers=bearer(bob))).status_code == 200


async def test_refused_requests_are_not_counted_and_failed_ones_are(make_client, users, db):
    alice, _ = users
    client = await make_client(rate_limit_per_minute=3)
    missing = "/v1/accounts/00000000-0000-4000-8000-000000000000"
    assert (await client.get(missing, headers=bearer(alice))).status_code == 404
    assert (await client.get("/v1/accounts", headers=bearer(alice))).status_code == 200
    assert (await client.get("/v1/accounts", headers=bearer(alice))).status_code == 200
    for _ in range(3):
        assert (await client.get("/v1/accounts", headers=bearer(alice))).status_code == 429
    row = db.execute("select hits from private.rate_limit_counters where bucket = 'all'").fetchone()
    assert row["hits"] == 3  # the 404 counted; the 429s did not


async def test_credential_endpoints_have_a_stricter_limit(make_client, users, db):
    alice, _ = users
    client = await make_client(rate_limit_per_minute=100, credentials_rate_limit_per_minute=2)
    for login in (1001, 1002):
        response = await client.post(
            "/v1/accounts", params={"wait": 0}, json=mt5_body(login=login), headers=bearer(alice)
        )
        assert response.status_code == 202
    third = await client.post(
        "/v1/accounts", params={"wait": 0}, json=mt5_body(login=1003), headers=bearer(alice)
    )
    assert third.status_code == 429
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 2
    # other endpoints still answer
    assert (await client.get("/v1/accounts", headers=bearer(alice))).status_code == 200


async def test_unauthenticated_requests_never_reach_the_counters(make_client, db):
    client = await make_client(rate_limit_per_minute=1)
    for _ in range(3):
        assert (await client.get("/v1/accounts")).status_code == 401
    assert db.execute("select count(*) as n from private.rate_limit_counters").fetchone()["n"] == 0
