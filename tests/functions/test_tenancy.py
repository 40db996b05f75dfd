"""Another user's resources answer 404, exactly like missing ones, and nothing changes."""

from __future__ import annotations

import uuid

import pytest

from tests.functions.helpers import BUY, bearer, connected_account, mt5_body

pytestmark = pytest.mark.anyio


def snapshot(db):
    """Everything a cross-tenant attempt could change."""
    return (
        db.execute("select * from public.accounts order by id").fetchall(),
        db.execute("select * from private.account_secrets order by account_id").fetchall(),
        db.execute("select id, status from public.jobs order by id").fetchall(),
    )


async def test_every_cross_tenant_attempt_is_404_and_changes_nothing(client, users, verdicts, db):
    alice, bob = users
    account = await connected_account(client, verdicts, alice)
    await connected_account(client, verdicts, bob, login=424242)
    trade = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=bearer(alice))
    job_id = trade.json()["job"]["id"]
    before = snapshot(db)
    audit_before = db.execute("select count(*) as n from public.audit_log").fetchone()["n"]

    attempts = [
        ("GET", f"/v1/accounts/{account['id']}", None),
        ("PATCH", f"/v1/accounts/{account['id']}", {"name": "mine now"}),
        ("PATCH", f"/v1/accounts/{account['id']}", {"credentials": {"password": "x"}}),
        ("POST", f"/v1/accounts/{account['id']}/switch", None),
        ("POST", f"/v1/accounts/{account['id']}/verify", None),
        ("DELETE", f"/v1/accounts/{account['id']}", None),
        ("POST", "/v1/trades", {**BUY, "account_id": account["id"]}),
        ("POST", "/v1/trades", {"action": "close", "position": "1", "account_id": account["id"]}),
        ("GET", f"/v1/jobs/{job_id}", None),
        ("GET", f"/v1/trades/{job_id}", None),
    ]
    missing = uuid.uuid4()
    for method, path, body in attempts:
        theirs = await client.request(method, path, json=body, headers=bearer(bob))
        assert theirs.status_code == 404, (method, path, theirs.text)
        # exactly like a missing id: same status, same shape, no hint
        nothing = await client.request(
            method,
            path.replace(account["id"], str(missing)).replace(job_id, str(missing)),
            json=body
            if not body or "account_id" not in body
            else {**body, "account_id": str(missing)},
            headers=bearer(bob),
        )
        assert nothing.status_code == 404
        assert theirs.json().keys() == nothing.json().keys()
        assert theirs.json()["detail"].replace(account["id"], "?").replace(
            job_id, "?"
        ) == nothing.json()["detail"].replace(str(missing), "?")

    assert snapshot(db) == before
    audit_after = db.execute("select count(*) as n from public.audit_log").fetchone()["n"]
    assert audit_after == audit_before


async def test_lists_show_only_your_own(client, users, verdicts):
    alice, bob = users
    await connected_account(client, verdicts, alice)
    await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=bearer(alice))
    assert (await client.get("/v1/accounts", headers=bearer(bob))).json() == []
    assert (await client.get("/v1/trades", headers=bearer(bob))).json()["items"] == []


async def test_the_same_login_may_be_connected_by_two_users(client, users, verdicts):
    alice, bob = users
    await connected_account(client, verdicts, alice)
    theirs = await connected_account(client, verdicts, bob)
    assert theirs["login"] == mt5_body()["login"].__str__()
