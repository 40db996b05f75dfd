"""Audit rows for every credential action and trade request, with IP and user agent."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from api_helpers import bearer, connected_account, mt5_body

from functions.core.db import as_role, connect

pytestmark = pytest.mark.anyio


async def test_credential_actions_and_trades_are_audited_with_ip_and_agent(
    client, users, verdicts, db
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    await client.patch(
        f"/v1/accounts/{account['id']}",
        json={"credentials": {"password": "another-pass"}},
        headers=bearer(alice),
        params={"wait": 0},
    )
    await verdicts.verify_next()
    second = await connected_account(client, verdicts, alice, login=999)
    await client.post(
        f"/v1/accounts/{second['id']}/switch", params={"wait": 0}, headers=bearer(alice)
    )
    await client.post(
        "/v1/trades",
        params={"wait": 0},
        json={"symbol": "EURUSD", "side": "buy", "volume": "0.1"},
        headers=bearer(alice),
    )
    await client.delete(f"/v1/accounts/{account['id']}", headers=bearer(alice))
    rows = db.execute(
        "select action, host(ip) as ip, user_agent, actor from public.audit_log "
        "where actor = 'authenticated' order by id"
    ).fetchall()
    actions = {r["action"] for r in rows}
    assert {
        "account.created",
        "credentials.created",
        "credentials.updated",
        "account.switched",
        "trade.requested",
        "account.deleted",
    } <= actions
    assert all(r["ip"] == "203.0.113.7" for r in rows)
    assert all(r["user_agent"] == "switchyard-tests/1" for r in rows)
    # the worker's verdicts are audited too (as the service)
    service = {
        r["action"]
        for r in db.execute("select action from public.audit_log where actor <> 'authenticated'")
    }
    assert "account.verified" in service


async def test_the_owner_reads_the_audit_log_but_cannot_forge_or_erase_it(
    client, users, verdicts, db_url
):
    alice, bob = users
    await client.post("/v1/accounts", params={"wait": 0}, json=mt5_body(), headers=bearer(alice))
    await asyncio.sleep(0)
    with connect(db_url, autocommit=True) as conn:
        with as_role(conn, "authenticated", alice.claims) as cur:
            assert cur.execute("select count(*) as n from public.audit_log").fetchone()["n"] >= 2
        with as_role(conn, "authenticated", bob.claims) as cur:
            assert cur.execute("select count(*) as n from public.audit_log").fetchone()["n"] == 0
        for statement in (
            "delete from public.audit_log",
            "update public.audit_log set action = 'nothing'",
            "insert into public.audit_log (user_id, action, actor) "
            "values (auth.uid(), 'account.created', 'authenticated')",
        ):
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege),
                as_role(conn, "authenticated", alice.claims) as cur,
            ):
                cur.execute(statement)
