"""Every trade carries a time-to-live: not started by then, it ends `cancelled` as `expired`.

No worker runs in these tests, which is exactly the outage of the issue: a trade that
nobody starts must not keep answering "queued"; the functions expire it themselves
(`private.expire_job`) when a request waits for it or a client reads it.
"""

from __future__ import annotations

import psycopg
import pytest

from functions.api.idempotency import request_hash
from switchyard.db import as_role, connect
from switchyard.domain import JobKind, OrderPayload
from tests.functions.helpers import bearer, connected_account

pytestmark = pytest.mark.anyio

BUY = {"symbol": "EURUSD", "side": "buy", "volume": "0.10"}
LIMIT = {"symbol": "EURUSD", "side": "buy", "type": "limit", "volume": "0.10", "price": "1.05"}


def ttl_of(db, job_id) -> float:
    row = db.execute(
        "select extract(epoch from expires_at - created_at)::float8 as ttl from public.jobs "
        "where id = %s",
        (job_id,),
    ).fetchone()
    return row["ttl"]


def make_overdue(db, job_id) -> None:
    db.execute(
        "update public.jobs set expires_at = now() - interval '1 second' where id = %s", (job_id,)
    )


async def queued_trade(client, user, body=BUY, **params):
    response = await client.post(
        "/v1/trades", params={"wait": 0, **params}, json=body, headers=bearer(user)
    )
    assert response.status_code == 202, response.text
    return response.json()["job"]


async def test_each_kind_of_trade_gets_its_default_time_to_live(client, users, verdicts, db):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    expected = [
        (BUY, 30),
        (LIMIT, 300),
        ({**LIMIT, "type": "stop", "price": "1.2"}, 300),
        ({"action": "close", "position": "5001"}, 300),
        ({"action": "modify", "position": "5001", "sl": "1.01"}, 300),
        ({"action": "cancel", "order": "9001"}, 300),
    ]
    for body, ttl_s in expected:
        job = await queued_trade(client, alice, body)
        assert ttl_of(db, job["id"]) == ttl_s, body
        assert job["expires_at"] is not None


async def test_the_defaults_come_from_the_settings(make_client, users, verdicts, db):
    alice, _ = users
    client = await make_client(
        trade_ttl_market_s=7, trade_ttl_pending_s=70, trade_ttl_close_s=8, trade_ttl_modify_s=9
    )
    await connected_account(client, verdicts, alice)
    for body, ttl_s in (
        (BUY, 7),
        (LIMIT, 70),
        ({"action": "close", "position": "1"}, 8),
        ({"action": "cancel", "order": "2"}, 9),
    ):
        assert ttl_of(db, (await queued_trade(client, alice, body))["id"]) == ttl_s


async def test_a_request_sets_its_own_time_to_live_outside_the_payload(client, users, verdicts, db):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    job = await queued_trade(client, alice, {**BUY, "ttl_s": 5})
    assert ttl_of(db, job["id"]) == 5
    row = db.execute("select payload from public.jobs where id = %s", (job["id"],)).fetchone()
    assert "ttl_s" not in row["payload"]
    assert OrderPayload.model_validate(row["payload"]) == OrderPayload(**BUY)


@pytest.mark.parametrize("ttl_s", [0, -1, 86_401, True, 1.5, "30", None])
async def test_a_time_to_live_out_of_bounds_or_not_an_integer_is_422(
    client, users, verdicts, db, ttl_s
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    response = await client.post("/v1/trades", json={**BUY, "ttl_s": ttl_s}, headers=bearer(alice))
    if ttl_s is None:  # the same as leaving it out
        assert response.status_code == 202, response.text
        return
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["ttl_s"]
    assert (
        db.execute("select count(*) as n from public.jobs where kind = 'order'").fetchone()["n"]
        == 0
    )


async def test_a_waiting_request_answers_expired_when_nobody_starts_the_trade(
    client, users, verdicts, db
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    response = await client.post(
        "/v1/trades", params={"wait": 30}, json={**BUY, "ttl_s": 1}, headers=bearer(alice)
    )
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:switchyard:problem:job-cancelled"
    assert problem["code"] == "expired"
    assert "not started within its time-to-live" in problem["detail"]
    assert "nothing was sent" in problem["detail"]
    assert problem["job"]["status"] == "cancelled"
    assert problem["job"]["error"]["code"] == "expired"
    row = db.execute(
        "select status, error, finished_at, started_at from public.jobs where id = %s",
        (problem["job"]["id"],),
    ).fetchone()
    assert row["status"] == "cancelled"
    assert row["error"]["code"] == "expired"
    assert row["started_at"] is None
    assert row["finished_at"] is not None


async def test_reading_a_trade_past_its_deadline_says_expired_not_queued(
    client, users, verdicts, db
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    for read in ("/v1/jobs/{id}", "/v1/trades/{id}", "/v1/trades"):
        job = await queued_trade(client, alice)
        make_overdue(db, job["id"])
        response = await client.get(read.format(id=job["id"]), headers=bearer(alice))
        assert response.status_code == 200, response.text
        body = response.json()
        seen = next(i for i in body["items"] if i["id"] == job["id"]) if "items" in body else body
        assert seen["status"] == "cancelled", read
        assert seen["error"]["code"] == "expired"
        assert seen["expires_at"] is not None


async def test_a_replayed_key_of_an_expired_trade_answers_expired(client, users, verdicts, db):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    headers = {**bearer(alice), "idempotency-key": '"ttl-replay"'}
    first = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=headers)
    assert first.status_code == 202
    make_overdue(db, first.json()["job"]["id"])
    again = await client.post("/v1/trades", json=BUY, headers=headers)
    assert again.status_code == 409
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["code"] == "expired"


async def test_only_a_queued_never_started_overdue_job_of_the_caller_expires(
    client, users, verdicts, db, db_url
):
    alice, bob = users
    await connected_account(client, verdicts, alice)
    in_time = await queued_trade(client, alice)
    retried = await queued_trade(client, alice)  # an earlier attempt may have reached the venue
    running = await queued_trade(client, alice)
    others = await queued_trade(client, alice)
    for job in (retried, running, others):
        make_overdue(db, job["id"])
    db.execute(
        "update public.jobs set started_at = now(), attempts = 1 where id = %s", (retried["id"],)
    )
    db.execute(
        "update public.jobs set status = 'running', started_at = now(), attempts = 1, "
        "lease_owner = 'w', lease_expires_at = now() + interval '30 s' where id = %s",
        (running["id"],),
    )
    with (
        connect(db_url, autocommit=True) as conn,
        as_role(conn, "authenticated", bob.claims) as cur,
    ):
        expired = cur.execute("select private.expire_job(%s) as e", (others["id"],)).fetchone()
        assert expired["e"] is False
    for job, status in ((in_time, "queued"), (retried, "queued"), (running, "running")):
        seen = await client.get(f"/v1/jobs/{job['id']}", headers=bearer(alice))
        assert seen.json()["status"] == status
    assert (
        db.execute("select status from public.jobs where id = %s", (others["id"],)).fetchone()[
            "status"
        ]
        == "queued"
    )


async def test_verify_jobs_have_no_deadline_and_trades_must_have_one(
    client, users, verdicts, db, db_url
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    assert (
        db.execute("select count(*) as n from public.jobs where expires_at is not null").fetchone()[
            "n"
        ]
        == 0
    )
    sql = "select * from private.enqueue_job(%s, %s, '{}'::jsonb, null, null, %s)"
    for kind, ttl_s in (("order", None), ("order", 0), ("verify", 30)):
        with (
            connect(db_url, autocommit=True) as conn,
            pytest.raises(psycopg.Error, match="time-to-live") as caught,
            as_role(conn, "authenticated", alice.claims) as cur,
        ):
            cur.execute(sql, (account["id"], kind, ttl_s))
        assert caught.value.sqlstate == "SW422"


def test_a_given_time_to_live_is_part_of_the_request_hash_and_an_absent_one_is_not():
    payload = OrderPayload(**BUY)
    plain = request_hash(JobKind.ORDER, None, payload)
    assert request_hash(JobKind.ORDER, None, payload, None) == plain
    assert request_hash(JobKind.ORDER, None, payload, 30) != plain
    assert request_hash(JobKind.ORDER, None, payload, 30) != request_hash(
        JobKind.ORDER, None, payload, 31
    )


async def test_the_same_key_with_another_time_to_live_is_another_request(
    client, users, verdicts, db
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    headers = {**bearer(alice), "idempotency-key": '"ttl-hash"'}
    first = await client.post(
        "/v1/trades", params={"wait": 0}, json={**BUY, "ttl_s": 20}, headers=headers
    )
    assert first.status_code == 202
    other = await client.post("/v1/trades", json={**BUY, "ttl_s": 25}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:switchyard:problem:idempotency-key-reused"
