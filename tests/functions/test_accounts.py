"""Connecting, listing, reading, changing, switching, verifying and deleting accounts."""

from __future__ import annotations

import asyncio

import pytest

from tests.functions.helpers import (
    API_KEY,
    MT5_NEW_PASSWORD,
    bearer,
    connected_account,
    exchange_body,
    mt5_body,
)

pytestmark = pytest.mark.anyio


async def test_connect_mt5_answers_201_with_the_verified_account_and_balance(
    client, users, verdicts, db
):
    alice, _ = users
    response, job = await asyncio.gather(
        client.post("/v1/accounts", json=mt5_body(), headers=bearer(alice)),
        verdicts.verify_next(),
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert response.headers["location"] == f"/v1/accounts/{account['id']}"
    assert account["status"] == "verified"
    assert account["login"] == "51234567"
    assert account["is_default"] is True  # the first account is the active one
    assert account["balance"]["balance"] == "10000.00"
    assert account["balance"]["currency"] == "USD"
    assert str(job["account_id"]) == account["id"]
    assert job["payload"] == {}
    secret = db.execute(
        "select ciphertext from private.account_secrets where account_id = %s", (account["id"],)
    ).fetchone()
    assert secret["ciphertext"].startswith("gAAAAA")


async def test_stored_secret_opens_only_for_its_account_with_the_ring(
    client, users, verdicts, db, vault
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    row = db.execute(
        "select ciphertext from private.account_secrets where account_id = %s", (account["id"],)
    ).fetchone()
    from uuid import UUID

    assert dict(vault.open(UUID(account["id"]), row["ciphertext"])) == {
        "password": "mt5-Pa55word-never-returned"
    }


async def test_connect_exchange_masks_the_key_and_hides_its_fingerprint(
    client, users, verdicts, db
):
    alice, _ = users
    response, _ = await asyncio.gather(
        client.post("/v1/accounts", json=exchange_body(), headers=bearer(alice)),
        verdicts.verify_next(),
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["venue"] == "okx"
    assert account["api_key"] == f"{API_KEY[:4]}…{API_KEY[-4:]}"
    assert account["login"] is None
    stored = db.execute("select login from public.accounts where id = %s", (account["id"],))
    assert stored.fetchone()["login"].startswith("sha256:")


async def _end_verify(verdicts, db, outcome: str) -> None:
    """The verify job ends as the worker (or a deletion) would end it."""
    job = await verdicts.next_queued("verify")
    if outcome == "cancelled":
        db.execute(
            "update public.jobs set status = 'cancelled', finished_at = now(), "
            'error = \'{"code": "account_deleted", "message": "withdrawn"}\' '
            "where id = %s",
            (job["id"],),
        )
    elif outcome == "venue_unavailable":
        # a venue that cannot be served now (the worker's verdict, as any venue's)
        await verdicts.fail(job, "venue_unavailable", "the exchange did not answer")
    else:
        await verdicts.fail(job, outcome, "something broke on our side")


@pytest.mark.parametrize(
    ("outcome", "status"), [("venue_unavailable", 503), ("internal", 500), ("cancelled", 409)]
)
async def test_a_connect_that_cannot_be_served_keeps_nothing_and_a_retry_is_not_409(
    client, users, verdicts, db, outcome, status
):
    alice, _ = users
    body = exchange_body(exchange="binance", passphrase=None)
    response, _ = await asyncio.gather(
        client.post("/v1/accounts", json=body, headers=bearer(alice)),
        _end_verify(verdicts, db, outcome),
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "nothing was kept" in response.json()["detail"]
    if status == 503:
        assert response.headers["retry-after"] == "30"
        assert response.json()["code"] == "venue_unavailable"
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 0
    assert db.execute("select count(*) as n from private.account_secrets").fetchone()["n"] == 0
    # connecting again is a fresh attempt, not "already connected"
    retry, _ = await asyncio.gather(
        client.post("/v1/accounts", json=body, headers=bearer(alice)), verdicts.verify_next()
    )
    assert retry.status_code == 201, retry.text


async def test_rejected_credentials_answer_422_with_the_reason_and_keep_nothing(
    client, users, verdicts, db
):
    alice, _ = users

    async def reject():
        job = await verdicts.next_queued("verify")
        await verdicts.fail(job, "credentials_rejected", "invalid account or password", 10)
        return job

    response, job = await asyncio.gather(
        client.post("/v1/accounts", json=mt5_body(), headers=bearer(alice)), reject()
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "credentials_rejected"
    assert problem["detail"].startswith("invalid account or password")
    assert "nothing was kept" in problem["detail"]
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 0
    assert db.execute("select count(*) as n from private.account_secrets").fetchone()["n"] == 0
    actions = [
        r["action"]
        for r in db.execute(
            "select action from public.audit_log where account_id = %s order by id",
            (job["account_id"],),
        )
    ]
    assert actions == [
        "account.created",
        "credentials.created",
        "account.failed",
        "account.deleted",
    ]
    # and connecting again with the right password simply works
    retry, _ = await asyncio.gather(
        client.post("/v1/accounts", json=mt5_body(), headers=bearer(alice)),
        verdicts.verify_next(),
    )
    assert retry.status_code == 201


async def test_connect_with_no_worker_answers_202_with_a_job_to_poll(client, users, db):
    alice, _ = users
    response = await client.post(
        "/v1/accounts", params={"wait": 0}, json=mt5_body(), headers=bearer(alice)
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["account"]["status"] == "pending"
    assert body["job"]["kind"] == "verify"
    assert body["job"]["status"] == "queued"
    assert response.headers["location"] == f"/v1/jobs/{body['job']['id']}"
    polled = await client.get(response.headers["location"], headers=bearer(alice))
    assert polled.status_code == 200
    assert polled.json()["status"] == "queued"


async def test_connect_waits_at_most_the_requested_seconds(client, users):
    alice, _ = users
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await client.post(
        "/v1/accounts", params={"wait": 0.5}, json=mt5_body(), headers=bearer(alice)
    )
    assert response.status_code == 202
    assert 0.5 <= loop.time() - started < 3


async def test_connecting_the_same_login_twice_answers_409(client, users, verdicts, db):
    alice, _ = users
    first = await connected_account(client, verdicts, alice)
    again = await client.post("/v1/accounts", json=mt5_body(), headers=bearer(alice))
    assert again.status_code == 409
    assert first["id"] in again.json()["detail"]
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 1
    assert db.execute("select count(*) as n from public.jobs").fetchone()["n"] == 1


async def test_list_and_get_show_status_default_flag_and_last_balance(client, users, verdicts):
    alice, _ = users
    first = await connected_account(client, verdicts, alice)
    second = await connected_account(client, verdicts, alice, login=7777, name="Second")
    listed = await client.get("/v1/accounts", headers=bearer(alice))
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [first["id"], second["id"]]
    assert [a["is_default"] for a in listed.json()] == [True, False]
    one = await client.get(f"/v1/accounts/{second['id']}", headers=bearer(alice))
    assert one.json()["name"] == "Second"
    assert one.json()["balance"]["balance"] == "10000.00"
    assert one.json()["permissions"] == {"trade": True}


async def test_patch_renames_relimits_and_switches_off(client, users, verdicts, db):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    response = await client.patch(
        f"/v1/accounts/{account['id']}",
        json={"name": "Main", "is_active": False, "risk_limits": {"max_volume": "1.5"}},
        headers=bearer(alice),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["is_active"]) == ("Main", False)
    assert body["risk_limits"] == {"max_volume": "1.5"}
    audit = db.execute(
        "select host(ip) as ip, user_agent from public.audit_log where action = 'account.updated'"
    ).fetchone()
    assert audit == {"ip": "203.0.113.7", "user_agent": "switchyard-tests/1"}


async def test_patch_with_new_credentials_re_encrypts_and_re_verifies(
    client, users, verdicts, db, vault
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    before = db.execute("select ciphertext from private.account_secrets").fetchone()["ciphertext"]
    response, job = await asyncio.gather(
        client.patch(
            f"/v1/accounts/{account['id']}",
            json={"credentials": {"password": MT5_NEW_PASSWORD}},
            headers=bearer(alice),
        ),
        verdicts.verify_next(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "verified"
    after = db.execute("select ciphertext from private.account_secrets").fetchone()["ciphertext"]
    assert after != before
    from uuid import UUID

    assert vault.open(UUID(account["id"]), after)["password"] == MT5_NEW_PASSWORD
    assert str(job["account_id"]) == account["id"]
    actions = {r["action"] for r in db.execute("select action from public.audit_log")}
    assert {"credentials.updated", "account.pending", "account.verified"} <= actions


async def test_patch_with_credentials_of_the_wrong_kind_changes_nothing(
    client, users, verdicts, db
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    before = db.execute("select ciphertext from private.account_secrets").fetchone()
    response = await client.patch(
        f"/v1/accounts/{account['id']}",
        json={"name": "Renamed", "credentials": {"api_key": API_KEY, "api_secret": API_KEY}},
        headers=bearer(alice),
    )
    assert response.status_code == 422
    assert "password" in response.json()["detail"]
    assert db.execute("select ciphertext from private.account_secrets").fetchone() == before
    assert db.execute("select name from public.accounts").fetchone()["name"] == "Demo"


async def test_patch_with_nothing_to_change_is_422(client, users, verdicts):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    response = await client.patch(f"/v1/accounts/{account['id']}", json={}, headers=bearer(alice))
    assert response.status_code == 422
    assert "nothing to change" in response.json()["detail"]


async def test_switch_makes_the_account_default_and_answers_with_live_balance(
    client, users, verdicts, db
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    second = await connected_account(client, verdicts, alice, login=7777)

    async def worker_logs_in():
        job = await verdicts.next_queued("switch")
        await verdicts.succeed(job, {"balance": "2500.50", "currency": "EUR", "leverage": 30})

    response, _ = await asyncio.gather(
        client.post(f"/v1/accounts/{second['id']}/switch", headers=bearer(alice)),
        worker_logs_in(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["is_default"] is True
    assert body["balance"]["balance"] == "2500.50"
    defaults = db.execute("select id from public.accounts where is_default").fetchall()
    assert [str(r["id"]) for r in defaults] == [second["id"]]
    assert (
        db.execute(
            "select count(*) as n from public.audit_log where action = 'account.switched'"
        ).fetchone()["n"]
        == 1
    )


async def test_switch_without_worker_answers_202_and_already_switched(client, users, verdicts):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    second = await connected_account(client, verdicts, alice, login=7777)
    response = await client.post(
        f"/v1/accounts/{second['id']}/switch", params={"wait": 0}, headers=bearer(alice)
    )
    assert response.status_code == 202
    assert response.json()["account"]["is_default"] is True
    assert response.json()["job"]["kind"] == "switch"


async def test_switch_to_an_unverified_account_is_409(client, users, db):
    alice, _ = users
    pending = await client.post(
        "/v1/accounts", params={"wait": 0}, json=mt5_body(), headers=bearer(alice)
    )
    account_id = pending.json()["account"]["id"]
    response = await client.post(f"/v1/accounts/{account_id}/switch", headers=bearer(alice))
    assert response.status_code == 409
    assert "pending" in response.json()["detail"]
    assert db.execute("select count(*) as n from public.jobs").fetchone()["n"] == 1


async def test_verify_again_answers_with_the_fresh_verdict(client, users, verdicts):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)

    async def revoked():
        job = await verdicts.next_queued("verify")
        await verdicts.fail(job, "credentials_rejected", "the password was changed")

    response, _ = await asyncio.gather(
        client.post(f"/v1/accounts/{account['id']}/verify", headers=bearer(alice)), revoked()
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "the password was changed"
    kept = await client.get(f"/v1/accounts/{account['id']}", headers=bearer(alice))
    assert kept.json()["status"] == "failed"  # re-verification never deletes
    assert kept.json()["status_reason"] == "the password was changed"


async def test_delete_removes_secrets_cancels_queued_jobs_keeps_history(
    client, users, verdicts, db
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    queued = await client.post(
        "/v1/trades",
        params={"wait": 0},
        json={"symbol": "EURUSD", "side": "buy", "volume": "0.1"},
        headers=bearer(alice),
    )
    assert queued.status_code == 202
    response = await client.delete(f"/v1/accounts/{account['id']}", headers=bearer(alice))
    assert response.status_code == 204
    assert response.content == b""
    assert db.execute("select count(*) as n from private.account_secrets").fetchone()["n"] == 0
    job = db.execute("select status, account_id from public.jobs where kind = 'order'").fetchone()
    assert job == {"status": "cancelled", "account_id": None}
    trade = await client.get(f"/v1/trades/{queued.json()['job']['id']}", headers=bearer(alice))
    assert trade.json()["status"] == "cancelled"
    assert trade.json()["error"]["code"] == "account_deleted"
    again = await client.get(f"/v1/accounts/{account['id']}", headers=bearer(alice))
    assert again.status_code == 404
    assert (
        await client.delete(f"/v1/accounts/{account['id']}", headers=bearer(alice))
    ).status_code == 404


async def test_verify_again_answers_200_with_the_fresh_balance(client, users, verdicts):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)

    async def reverified():
        job = await verdicts.next_queued("verify")
        await verdicts.succeed(job, {"balance": "12345.67", "currency": "USD", "leverage": 50})

    response, _ = await asyncio.gather(
        client.post(f"/v1/accounts/{account['id']}/verify", headers=bearer(alice)),
        reverified(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "verified"
    assert response.json()["balance"]["balance"] == "12345.67"


async def test_make_default_takes_over_only_once_verified_so_a_rejection_keeps_the_old_default(
    client, users, verdicts, db
):
    alice, _ = users
    first, _ = await asyncio.gather(
        client.post("/v1/accounts", json=mt5_body(login=1001), headers=bearer(alice)),
        verdicts.verify_next(),
    )
    assert first.json()["is_default"] is True

    async def reject():
        job = await verdicts.next_queued("verify")
        await verdicts.fail(job, "credentials_rejected", "Authorization failed")

    rejected, _ = await asyncio.gather(
        client.post(
            "/v1/accounts", json=mt5_body(login=1002, make_default=True), headers=bearer(alice)
        ),
        reject(),
    )
    assert rejected.status_code == 422, rejected.text
    defaults = db.execute("select id from public.accounts where is_default").fetchall()
    assert [str(r["id"]) for r in defaults] == [first.json()["id"]]

    accepted, _ = await asyncio.gather(
        client.post(
            "/v1/accounts", json=mt5_body(login=1003, make_default=True), headers=bearer(alice)
        ),
        verdicts.verify_next(),
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["is_default"] is True
    defaults = db.execute("select id from public.accounts where is_default").fetchall()
    assert [str(r["id"]) for r in defaults] == [accepted.json()["id"]]
