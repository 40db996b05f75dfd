"""Placing trades by curl: fills, refusals, the 202 path, and the job payload contract."""

from __future__ import annotations

import asyncio
import json

import pytest

from switchyard.domain import (
    CancelPayload,
    ClosePayload,
    ModifyPayload,
    OrderPayload,
    client_order_id,
)
from tests.functions.helpers import BUY, bearer, connected_account, fill_for

pytestmark = pytest.mark.anyio


async def test_market_order_answers_201_with_the_fill(client, users, verdicts):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)

    async def worker_fills():
        job = await verdicts.next_queued("order")
        await verdicts.succeed(job, fill_for(job))
        return job

    response, job = await asyncio.gather(
        client.post("/v1/trades", json=BUY, headers=bearer(alice)), worker_fills()
    )
    assert response.status_code == 201, response.text
    trade = response.json()
    assert response.headers["location"] == f"/v1/trades/{trade['id']}"
    assert trade["fill"]["order"] == "5001"
    assert trade["fill"]["price"] == "1.08512"
    assert trade["fill"]["volume"] == "0.10"
    assert trade["client_order_id"] == client_order_id(job["id"])
    assert trade["account_id"] == account["id"]  # the active account, as none was named
    # the job payload is exactly the domain model the worker parses
    assert OrderPayload.model_validate(job["payload"]) == OrderPayload(
        symbol="EURUSD", side="buy", volume="0.10"
    )


async def test_each_action_queues_its_domain_payload(client, users, verdicts, db):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    requests = [
        (
            {"action": "close", "position": "5001", "volume": "0.05"},
            "close",
            ClosePayload(position="5001", volume="0.05"),
        ),
        (
            {"action": "modify", "position": "5001", "sl": "1.07"},
            "modify",
            ModifyPayload(position="5001", sl="1.07"),
        ),
        ({"action": "cancel", "order": "9001"}, "cancel", CancelPayload(order="9001")),
        (
            {
                "symbol": "BTC/USDT",
                "side": "sell",
                "type": "limit",
                "volume": "0.01",
                "price": "98000",
                "comment": "grid #1",
            },
            "order",
            OrderPayload(
                symbol="BTC/USDT",
                side="sell",
                type="limit",
                volume="0.01",
                price="98000",
                comment="grid #1",
            ),
        ),
    ]
    for body, kind, expected in requests:
        response = await client.post(
            "/v1/trades", params={"wait": 0}, json=body, headers=bearer(alice)
        )
        assert response.status_code == 202, response.text
        assert response.json()["job"]["kind"] == kind
        row = db.execute(
            "select payload from public.jobs where id = %s", (response.json()["job"]["id"],)
        ).fetchone()
        assert type(expected).model_validate(row["payload"]) == expected


async def test_venue_refusal_is_422_with_the_reason_and_retcode(client, users, verdicts):
    alice, _ = users
    await connected_account(client, verdicts, alice)

    async def no_money():
        job = await verdicts.next_queued("order")
        await verdicts.fail(job, "no_money", "not enough money: free margin 12.40 USD", 10019)

    response, _ = await asyncio.gather(
        client.post("/v1/trades", json=BUY, headers=bearer(alice)), no_money()
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:switchyard:problem:no-money"
    assert problem["code"] == "no_money"
    assert problem["retcode"] == 10019
    assert problem["detail"] == "not enough money: free margin 12.40 USD"
    assert problem["job"]["status"] == "failed"


async def test_trade_without_worker_answers_202_and_the_job_can_be_polled(client, users, verdicts):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    response = await client.post(
        "/v1/trades", params={"wait": 0.3}, json=BUY, headers=bearer(alice)
    )
    assert response.status_code == 202
    location = response.headers["location"]
    job = await verdicts.next_queued("order")
    await verdicts.succeed(job, fill_for(job))
    polled = await client.get(location, headers=bearer(alice))
    assert polled.json()["status"] == "succeeded"
    assert polled.json()["result"]["order"] == "5001"
    trade = await client.get(f"/v1/trades/{job['id']}", headers=bearer(alice))
    assert trade.json()["fill"]["deal"] == "7001"


async def test_trade_with_no_active_account_is_422_and_writes_nothing(client, users, db):
    alice, _ = users
    response = await client.post("/v1/trades", json=BUY, headers=bearer(alice))
    assert response.status_code == 422
    assert "no active account" in response.json()["detail"]
    assert db.execute("select count(*) as n from public.jobs").fetchone()["n"] == 0


async def test_trade_on_a_switched_off_account_is_409(client, users, verdicts, db):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    await client.patch(
        f"/v1/accounts/{account['id']}", json={"is_active": False}, headers=bearer(alice)
    )
    response = await client.post("/v1/trades", json=BUY, headers=bearer(alice))
    assert response.status_code == 409
    assert "switched off" in response.json()["detail"]
    assert (
        db.execute("select count(*) as n from public.jobs where kind = 'order'").fetchone()["n"]
        == 0
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BUY, "volume": 0}, "volume"),
        ({**BUY, "volume": "-1"}, "volume"),
        ({**BUY, "volume": "NaN"}, "volume"),
        ({**BUY, "volume": "1e400"}, "volume"),
        ({**BUY, "volume": True}, "volume"),
        ({**BUY, "side": "long"}, "side"),
        ({**BUY, "symbol": "EUR USD; drop table"}, "symbol"),
        ({**BUY, "symbol": "X" * 10_000}, "symbol"),
        ({**BUY, "comment": "nul\x00byte"}, "comment"),
        ({**BUY, "leverage": 500}, "leverage"),
        ({**BUY, "price": "1.1"}, "body"),
        ({**BUY, "type": "limit"}, "body"),
        ({"action": "close"}, "position"),
        ({"action": "modify", "position": "1"}, "body"),
        ({"action": "teleport"}, "body"),
        ({**BUY, "account_id": "not-a-uuid"}, "account_id"),
    ],
)
async def test_bad_trade_requests_are_422_naming_the_field_and_write_nothing(
    client, users, verdicts, db, body, field
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    response = await client.post("/v1/trades", json=body, headers=bearer(alice))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "urn:switchyard:problem:validation-error"
    assert any(
        e["field"].split(".")[-1] == field or e["field"] == field for e in problem["errors"]
    ), problem
    assert (
        db.execute("select count(*) as n from public.jobs where kind <> 'verify'").fetchone()["n"]
        == 0
    )


async def test_nan_literal_in_json_is_refused(client, users, verdicts, db):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    response = await client.post(
        "/v1/trades",
        content=b'{"symbol": "EURUSD", "side": "buy", "volume": NaN}',
        headers={**bearer(alice), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "volume"


async def test_trades_that_share_a_created_at_are_paged_without_a_gap(client, users, verdicts, db):
    """One alert's jobs are written in one transaction: they share `created_at`, and a
    page edge among them must neither skip nor repeat one."""
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    with db.transaction():  # now() is the transaction's: five trades of one instant
        made = [
            db.execute(
                "insert into public.jobs (user_id, account_id, kind, payload) "
                "select user_id, id, 'order', %s from public.accounts where id = %s "
                "returning id, created_at",
                (json.dumps(BUY | {"account_id": account["id"]}), account["id"]),
            ).fetchone()
            for _ in range(5)
        ]
    assert len({row["created_at"] for row in made}) == 1
    seen, url = [], "/v1/trades?limit=2"
    while url:
        response = await client.get(url, headers=bearer(alice))
        assert response.status_code == 200, response.text
        seen += [t["id"] for t in response.json()["items"]]
        url = response.json()["next"]
    assert sorted(seen) == sorted(str(row["id"]) for row in made)
    assert len(seen) == len(set(seen)) == 5


async def test_list_and_get_trades_with_journal(client, users, verdicts, db):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    ids = []
    for _ in range(3):
        response = await client.post(
            "/v1/trades", params={"wait": 0}, json=BUY, headers=bearer(alice)
        )
        ids.append(response.json()["job"]["id"])
    db.execute(
        "insert into public.orders (user_id, account_id, job_id, client_order_id, action, "
        "symbol, side, order_type, volume, status) "
        "select user_id, account_id, id, 'sy' || left(replace(id::text, '-', ''), 24), 'open', "
        "'EURUSD', 'buy', 'market', 0.1, 'sent' from public.jobs where id = %s",
        (ids[0],),
    )
    page = await client.get("/v1/trades", params={"limit": 2}, headers=bearer(alice))
    assert page.status_code == 200
    assert [t["id"] for t in page.json()["items"]] == [ids[2], ids[1]]
    rest = await client.get(page.json()["next"], headers=bearer(alice))
    assert [t["id"] for t in rest.json()["items"]] == [ids[0]]
    one = await client.get(f"/v1/trades/{ids[0]}", headers=bearer(alice))
    assert one.json()["journal"][0]["status"] == "sent"
    assert one.json()["account_id"] == account["id"]
    filtered = await client.get("/v1/trades", params={"status": "succeeded"}, headers=bearer(alice))
    assert filtered.json()["items"] == []
    verify_job = db.execute("select id from public.jobs where kind = 'verify'").fetchone()
    not_a_trade = await client.get(f"/v1/trades/{verify_job['id']}", headers=bearer(alice))
    assert not_a_trade.status_code == 404
    job = await client.get(f"/v1/jobs/{verify_job['id']}", headers=bearer(alice))
    assert job.json()["kind"] == "verify"
    assert json.loads(job.text)["client_order_id"] is None


@pytest.mark.parametrize(
    ("leverage", "why"),
    [
        (0, "greater than or equal to 1"),
        (126, "less than or equal to 125"),
        ("5", "integer"),
        (5.0, "integer"),
        (True, "integer"),
    ],
)
async def test_a_leverage_outside_1_to_125_or_not_an_integer_is_422_and_queues_nothing(
    client, users, verdicts, db, leverage, why
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    body = {"symbol": "BTC/USDT:USDT", "side": "buy", "volume": "0.01", "leverage": leverage}
    response = await client.post("/v1/trades", json=body, headers=bearer(alice))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:switchyard:problem:validation-error"
    [error] = [e for e in problem["errors"] if e["field"] == "leverage"]
    assert why in error["message"]
    assert "leverage" in problem["detail"]
    queued = db.execute("select count(*) as n from public.jobs where kind <> 'verify'")
    assert queued.fetchone()["n"] == 0


async def test_an_orders_leverage_is_queued_in_its_payload_for_the_worker(
    client, users, verdicts, db
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    body = {"symbol": "BTC/USDT:USDT", "side": "buy", "volume": "0.01", "leverage": 20}
    response = await client.post("/v1/trades", params={"wait": 0}, json=body, headers=bearer(alice))
    assert response.status_code == 202, response.text
    row = db.execute(
        "select payload from public.jobs where id = %s", (response.json()["job"]["id"],)
    ).fetchone()
    assert row["payload"]["leverage"] == 20
    assert OrderPayload.model_validate(row["payload"]).leverage == 20
