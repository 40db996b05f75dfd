"""Audit rows for every credential action and trade request, with IP and user agent.

The IP is the address the deployment trusts: never the left-most X-Forwarded-For entry,
which whoever sends the request writes.
"""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from switchyard.db import CLIENT_ADDRESS, as_role, connect
from tests.functions.helpers import bearer, connected_account, mt5_body

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


# --- the client address: never the left-most (client-written) X-Forwarded-For entry ---

FORGED = "6.6.6.6"
CLIENT = "198.51.100.9"


def last_ip(db, action: str) -> str | None:
    row = db.execute(
        "select host(ip) as ip from public.audit_log where action = %s order by id desc limit 1",
        (action,),
    ).fetchone()
    assert row is not None, f"no {action} row"
    return row["ip"]


async def test_the_functions_record_their_peer_and_not_a_forged_forwarded_for(
    make_server, users, db
):
    """Through a real uvicorn: with no trusted proxy, the TCP peer is the client."""
    alice, _ = users
    served = make_server()
    async with httpx.AsyncClient(base_url=served.url) as http:
        response = await http.post(
            "/v1/accounts",
            params={"wait": 0},
            json=mt5_body(),
            headers={**bearer(alice), "x-forwarded-for": FORGED},
        )
    assert response.status_code == 202, response.text
    assert last_ip(db, "account.created") == "127.0.0.1"


async def test_behind_one_load_balancer_the_functions_record_what_it_appended(
    make_server, users, db
):
    alice, _ = users
    served = make_server(SWITCHYARD_TRUSTED_PROXY_HOPS="1")
    async with httpx.AsyncClient(base_url=served.url) as http:
        response = await http.post(
            "/v1/accounts",
            params={"wait": 0},
            json=mt5_body(),
            headers={**bearer(alice), "x-forwarded-for": f"{FORGED}, {CLIENT}"},
        )
    assert response.status_code == 202, response.text
    assert last_ip(db, "account.created") == CLIENT


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, [f"{FORGED}, {CLIENT}"], "203.0.113.7"),  # the peer of the test transport
        (1, [f"{FORGED}, {CLIENT}"], CLIENT),
        (1, [FORGED, CLIENT], CLIENT),  # two header lines are one list
        (2, [f"{FORGED}, {CLIENT}, 10.0.0.2"], CLIENT),
        (2, [CLIENT], "203.0.113.7"),  # shorter than the trusted chain: the peer
        (1, [], "203.0.113.7"),
        (1, [f"{FORGED}, not-an-address"], None),
        (1, [f"{FORGED}, [2001:db8::1]:443"], "2001:db8::1"),
        (1, [f"{FORGED}, 198.51.100.9:5555"], CLIENT),
    ],
)
async def test_the_functions_take_the_entry_their_trusted_proxies_added(
    make_client, users, db, hops, forwarded, expected
):
    alice, _ = users
    client = await make_client(trusted_proxy_hops=hops)
    headers = [(k, v) for k, v in bearer(alice).items()]
    headers += [("x-forwarded-for", value) for value in forwarded]
    response = await client.post(
        "/v1/accounts", params={"wait": 0}, json=mt5_body(), headers=headers
    )
    assert response.status_code == 202, response.text
    assert last_ip(db, "account.created") == expected


def _rename_through_postgrest(db_url, user, account_id, forwarded: str | None) -> None:
    """What PostgREST does for supabase-js: request.headers as sent, then the statement."""
    headers = {"user-agent": "supabase-js/2"}
    if forwarded is not None:
        headers["x-forwarded-for"] = forwarded
    with (
        connect(db_url, autocommit=True) as conn,
        as_role(conn, "authenticated", user.claims, headers) as cur,
    ):
        cur.execute(
            "update public.accounts set name = md5(random()::text) where id = %s", (account_id,)
        )
        assert cur.rowcount == 1


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (None, f"{FORGED}, {CLIENT}", CLIENT),  # the default: 1, Supabase's edge
        (None, CLIENT, CLIENT),
        (None, f"{FORGED}, 198.51.100.0/24", None),
        (None, f"{FORGED}, garbage", None),
        (None, None, None),
        (2, f"{FORGED}, {CLIENT}, 10.0.0.2", CLIENT),
        (2, CLIENT, None),  # fewer entries than trusted proxies: nothing trustworthy
        (0, f"{FORGED}, {CLIENT}", None),
    ],
)
async def test_postgrest_writes_record_the_entry_the_trusted_proxies_added(
    client, users, verdicts, db, db_url, hops, forwarded, expected
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    if hops is not None:  # what the operator does in the SQL editor
        db.execute("update private.audit_settings set trusted_proxy_hops = %s", (hops,))
    _rename_through_postgrest(db_url, alice, account["id"], forwarded)
    assert last_ip(db, "account.updated") == expected


async def test_the_address_the_functions_vouch_for_wins_over_request_headers(
    client, users, verdicts, db, db_url
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    with (
        connect(db_url, autocommit=True) as conn,
        as_role(
            conn,
            "authenticated",
            alice.claims,
            {"x-forwarded-for": f"{FORGED}, 10.9.9.9", CLIENT_ADDRESS: CLIENT},
        ) as cur,
    ):
        headers = cur.execute("select current_setting('request.headers') as h").fetchone()["h"]
        assert CLIENT_ADDRESS not in headers  # not a request header
        cur.execute("update public.accounts set name = 'vouched' where id = %s", (account["id"],))
    assert last_ip(db, "account.updated") == CLIENT


def test_nobody_but_the_operator_reads_or_changes_the_audit_settings(db, db_url, make_user):
    alice = make_user("alice@example.com")
    with connect(db_url, autocommit=True) as conn:
        for role, claims in (
            ("authenticated", alice.claims),
            ("anon", None),
            ("service_role", None),
        ):
            for statement in (
                "select trusted_proxy_hops from private.audit_settings",
                "update private.audit_settings set trusted_proxy_hops = 5",
            ):
                with (
                    pytest.raises(psycopg.errors.InsufficientPrivilege),
                    as_role(conn, role, claims) as cur,
                ):
                    cur.execute(statement)
    row = db.execute("select trusted_proxy_hops from private.audit_settings").fetchone()
    assert row["trusted_proxy_hops"] == 1
