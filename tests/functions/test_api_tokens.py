"""Personal API tokens: shown once and stored hashed, limited to their scopes under the same
RLS as their owner, refused at once when revoked or expired (in every function process),
and every use in the owner's audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from switchyard.db import as_role, connect
from tests.functions.helpers import BUY, CLIENT, bearer, connected_account

pytestmark = pytest.mark.anyio


async def make_token(
    client: httpx.AsyncClient, user: Any, scopes: list[str], **extra: Any
) -> dict[str, Any]:
    body = {"name": "cron", "scopes": scopes, **extra}
    response = await client.post("/v1/api-tokens", json=body, headers=bearer(user))
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def auth(made: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {made['token']}"}


async def test_a_token_is_answered_once_and_only_its_hash_is_kept(client, users, db):
    alice, _ = users
    response = await client.post(
        "/v1/api-tokens",
        json={"name": "cron", "scopes": ["trade", "read", "trade"], "expires_in_days": 30},
        headers=bearer(alice),
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/v1/api-tokens"
    made = response.json()
    assert set(made) == {
        "id",
        "name",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "token",
    }
    assert made["name"] == "cron"
    assert made["scopes"] == ["read", "trade"]
    assert made["token"].startswith("syt_")
    assert len(made["token"]) == 47
    expires = dt.datetime.fromisoformat(made["expires_at"])
    created = dt.datetime.fromisoformat(made["created_at"])
    assert expires - created == dt.timedelta(days=30)
    row = db.execute("select * from public.api_tokens where id = %s", (made["id"],)).fetchone()
    assert bytes(row["token_hash"]) == hashlib.sha256(made["token"].encode()).digest()
    # The token itself is nowhere in the database: not in its row, not in the audit log.
    for table in ("public.api_tokens", "public.audit_log"):
        dump = db.execute(f"select json_agg(t)::text as d from {table} t").fetchone()["d"]
        assert made["token"] not in dump, table
    listed = await client.get("/v1/api-tokens", headers=bearer(alice))
    assert listed.status_code == 200
    assert listed.json() == [{k: v for k, v in made.items() if k != "token"}]
    created_rows = db.execute(
        "select detail from public.audit_log where action = 'api_token.created'"
    ).fetchall()
    assert [r["detail"]["api_token_id"] for r in created_rows] == [made["id"]]


async def test_the_default_lifetime_is_90_days_and_bad_bodies_change_nothing(client, users, db):
    alice, _ = users
    made = await make_token(client, alice, ["read"])
    lifetime = dt.datetime.fromisoformat(made["expires_at"]) - dt.datetime.fromisoformat(
        made["created_at"]
    )
    assert lifetime == dt.timedelta(days=90)
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["admin"]},
        {"name": "x", "scopes": ["read"], "expires_in_days": 0},
        {"name": "x", "scopes": ["read"], "expires_in_days": 366},
        {"name": "x", "scopes": ["read"], "expires_in_days": "30"},
        {"name": "", "scopes": ["read"]},
        {"name": "x\u202e", "scopes": ["read"]},
        {"scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "token": "syt_mine"},
    ):
        response = await client.post("/v1/api-tokens", json=body, headers=bearer(alice))
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert db.execute("select count(*) as n from public.api_tokens").fetchone()["n"] == 1


async def test_a_token_does_what_its_scopes_allow_and_nothing_else(client, users, verdicts):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    reader = await make_token(client, alice, ["read"])
    trader = await make_token(client, alice, ["trade"])
    manager = await make_token(client, alice, ["accounts"])

    assert (await client.get("/v1/accounts", headers=auth(reader))).status_code == 200
    refused = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=auth(reader))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "urn:switchyard:problem:insufficient-scope"
    assert problem["required_scope"] == "trade"
    assert "(read)" in problem["detail"]
    assert "'trade'" in problem["detail"]
    assert "POST /v1/trades" in problem["detail"]

    placed = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=auth(trader))
    assert placed.status_code == 202, placed.text
    assert (await client.get("/v1/accounts", headers=auth(trader))).status_code == 403

    url = f"/v1/accounts/{account['id']}"
    renamed = await client.patch(url, json={"name": "Main"}, headers=auth(manager))
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Main"
    for headers in (auth(reader), auth(trader)):
        assert (await client.patch(url, json={"name": "x"}, headers=headers)).status_code == 403
        assert (await client.delete(url, headers=headers)).status_code == 403
    assert (await client.get(url, headers=bearer(alice))).json()["name"] == "Main"


async def test_a_token_runs_as_its_owner_under_the_same_rls(client, users, verdicts):
    alice, bob = users
    bobs = await connected_account(client, verdicts, bob)
    token = await make_token(client, alice, ["read", "accounts"])
    assert (await client.get("/v1/accounts", headers=auth(token))).json() == []
    for response in (
        await client.get(f"/v1/accounts/{bobs['id']}", headers=auth(token)),
        await client.patch(f"/v1/accounts/{bobs['id']}", json={"name": "x"}, headers=auth(token)),
        await client.delete(f"/v1/accounts/{bobs['id']}", headers=auth(token)),
    ):
        assert response.status_code == 404, response.text
    assert (await client.get(f"/v1/accounts/{bobs['id']}", headers=bearer(bob))).status_code == 200


async def test_tokens_are_managed_with_a_session_only(client, users, db):
    """A token that could create tokens would let a leaked one outlive its revocation."""
    alice, _ = users
    token = await make_token(client, alice, ["read", "trade", "accounts"])
    created = await client.post(
        "/v1/api-tokens", json={"name": "child", "scopes": ["read"]}, headers=auth(token)
    )
    assert created.status_code == 403
    assert "does not accept API tokens" in created.json()["detail"]
    revoked = await client.delete(f"/v1/api-tokens/{token['id']}", headers=auth(token))
    assert revoked.status_code == 403
    assert db.execute("select count(*) as n from public.api_tokens").fetchone()["n"] == 1
    listed = await client.get("/v1/api-tokens", headers=auth(token))  # `read` lists them
    assert [t["id"] for t in listed.json()] == [token["id"]]


def test_the_database_refuses_a_token_made_with_a_token(db, functions_db_url, make_user):
    """The same wall in SQL: claims that name an API token cannot create one."""
    alice = make_user("alice@example.com")
    claims = {
        "sub": str(alice.id),
        "role": "authenticated",
        "switchyard_api_token": {"id": str(uuid.uuid4())},
    }
    with (
        connect(functions_db_url, autocommit=True) as conn,
        pytest.raises(psycopg.Error) as refused,
        as_role(conn, "authenticated", claims) as cur,
    ):
        cur.execute("select * from private.create_api_token('x', '{read}', 30, sha256('x'::bytea))")
    assert refused.value.sqlstate == "SW403"
    assert db.execute("select count(*) as n from public.api_tokens").fetchone()["n"] == 0


async def test_revoked_expired_unknown_and_malformed_tokens_are_401(client, users, db):
    alice, _ = users
    revoked = await make_token(client, alice, ["read"])
    expired = await make_token(client, alice, ["read"])
    assert (await client.get("/v1/accounts", headers=auth(revoked))).status_code == 200
    gone = await client.delete(f"/v1/api-tokens/{revoked['id']}", headers=bearer(alice))
    assert gone.status_code == 204
    again = await client.delete(f"/v1/api-tokens/{revoked['id']}", headers=bearer(alice))
    assert again.status_code == 404
    db.execute(
        "update public.api_tokens set created_at = now() - interval '2 days', "
        "expires_at = now() - interval '1 second' where id = %s",
        (expired["id"],),
    )
    unknown = "syt_" + "A" * 43
    for token in (revoked["token"], expired["token"], unknown, "syt_short", "syt_" + "!" * 43):
        response = await client.get("/v1/accounts", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert token not in response.text
    # Listed: the expired one (to see that it expired); the revoked one is gone.
    listed = (await client.get("/v1/api-tokens", headers=bearer(alice))).json()
    assert [t["id"] for t in listed] == [expired["id"]]


async def test_another_users_token_cannot_be_revoked(client, users, db):
    alice, bob = users
    token = await make_token(client, alice, ["read"])
    response = await client.delete(f"/v1/api-tokens/{token['id']}", headers=bearer(bob))
    assert response.status_code == 404
    assert (await client.get("/v1/accounts", headers=auth(token))).status_code == 200
    assert (await client.get("/v1/api-tokens", headers=bearer(bob))).json() == []


async def test_a_revocation_is_seen_at_once_by_another_function_process(client, users, make_server):
    alice, _ = users
    other = make_server()  # `switchyard functions`, its own process, pool and everything
    token = await make_token(client, alice, ["read"])
    async with httpx.AsyncClient(base_url=other.url, timeout=30) as remote:
        assert (await remote.get("/v1/accounts", headers=auth(token))).status_code == 200
        revoked = await client.delete(f"/v1/api-tokens/{token['id']}", headers=bearer(alice))
        assert revoked.status_code == 204
        refused = await remote.get("/v1/accounts", headers=auth(token))
        assert refused.status_code == 401, refused.text
    assert token["token"] not in other.stop()  # nor in its log


async def test_every_use_is_in_the_owners_audit_log(client, users, verdicts, db):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    token = await make_token(client, alice, ["read", "trade"])
    listed = await client.get("/v1/accounts", headers=auth(token))
    assert listed.status_code == 200
    refused = await client.delete(f"/v1/accounts/{account['id']}", headers=auth(token))
    assert refused.status_code == 403
    placed = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=auth(token))
    assert placed.status_code == 202
    uses = db.execute(
        "select detail, actor, host(ip) as ip, user_agent from public.audit_log "
        "where action = 'api_token.used' and user_id = %s order by id",
        (alice.id,),
    ).fetchall()
    assert [(u["detail"]["method"], u["detail"]["path"], u["detail"]["scope"]) for u in uses] == [
        ("GET", "/v1/accounts", "read"),
        ("DELETE", f"/v1/accounts/{account['id']}", "accounts"),
        ("POST", "/v1/trades", "trade"),
    ]
    assert [u["detail"]["allowed"] for u in uses] == [True, False, True]
    assert {u["detail"]["api_token_id"] for u in uses} == {token["id"]}
    assert {(u["actor"], u["ip"], u["user_agent"]) for u in uses} == {
        ("api_token", CLIENT[0], "switchyard-tests/1")
    }
    (requested,) = db.execute(
        "select detail, actor, host(ip) as ip from public.audit_log "
        "where action = 'trade.requested'"
    ).fetchall()
    assert requested["actor"] == "api_token"
    assert requested["detail"]["api_token_id"] == token["id"]
    assert requested["ip"] == CLIENT[0]
    last_used = db.execute(
        "select last_used_at from public.api_tokens where id = %s", (token["id"],)
    ).fetchone()["last_used_at"]
    assert last_used is not None
    # The owner reads all of it through RLS; nobody else does.
    mine = await client.get("/v1/api-tokens", headers=bearer(alice))
    assert mine.json()[0]["last_used_at"] is not None


async def test_a_token_of_a_deleted_user_is_401(client, make_user, db):
    gone = make_user("gone@example.com")
    token = await make_token(client, gone, ["read"])
    db.execute("delete from auth.users where id = %s", (gone.id,))
    assert (await client.get("/v1/accounts", headers=auth(token))).status_code == 401
    assert db.execute("select count(*) as n from public.api_tokens").fetchone()["n"] == 0


async def test_concurrent_uses_of_one_token_all_pass(client, users):
    alice, _ = users
    token = await make_token(client, alice, ["read"])
    answers = await asyncio.gather(
        *(client.get("/v1/accounts", headers=auth(token)) for _ in range(8))
    )
    assert [a.status_code for a in answers] == [200] * 8


def test_authenticated_cannot_read_the_hash_nor_write_tokens(db, functions_db_url, make_user):
    alice = make_user("alice@example.com")
    db.execute(
        "insert into public.api_tokens (user_id, name, scopes, token_hash, expires_at) "
        "values (%s, 'cron', '{read}', sha256('t'::bytea), now() + interval '1 day')",
        (alice.id,),
    )
    claims = json.loads(json.dumps(alice.claims))
    with connect(functions_db_url, autocommit=True) as conn:
        with as_role(conn, "authenticated", claims) as cur:
            assert cur.execute("select name from public.api_tokens").fetchall() == [
                {"name": "cron"}
            ]
        for statement in (
            "select token_hash from public.api_tokens",
            "update public.api_tokens set revoked_at = null",
            "select * from private.use_api_token(sha256('t'::bytea), 'read', 'GET', '/', '', '')",
        ):
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege),
                as_role(conn, "authenticated", claims) as cur,
            ):
                cur.execute(statement)


def test_the_database_checks_a_tokens_scopes_again(db, functions_db_url, make_user):
    """Were a route to declare too wide a scope, what the token's request writes is refused."""
    alice = make_user("alice@example.com")
    account = db.execute(
        "insert into public.accounts (user_id, kind, venue, name, login, server, environment, "
        "status, is_default) values (%s, 'mt5', 'mt5', 'main', '1001', 'Demo-1', 'demo', "
        "'verified', true) returning id",
        (alice.id,),
    ).fetchone()["id"]

    def claims(*scopes: str) -> dict[str, Any]:
        token = {"id": str(uuid.uuid4()), "scopes": list(scopes)}
        return {"sub": str(alice.id), "role": "authenticated", "switchyard_api_token": token}

    trade = (
        "select * from private.enqueue_job(%s, 'order', '{}', null, null, 30)",
        (account,),
    )
    rename = ("update public.accounts set name = 'x' where id = %s", (account,))
    verify = ("select * from private.enqueue_job(%s, 'verify', '{}', null, null, null)", (account,))
    with connect(functions_db_url, autocommit=True) as conn:
        for scopes, (statement, params) in (
            (("read",), trade),
            (("read", "accounts"), trade),
            (("read", "trade"), rename),
            (("trade",), verify),
        ):
            with (
                pytest.raises(psycopg.Error) as refused,
                as_role(conn, "authenticated", claims(*scopes)) as cur,
            ):
                cur.execute(statement, params)
            assert refused.value.sqlstate == "SW403", (scopes, statement)
        for scopes, (statement, params) in (
            (("trade",), trade),
            (("accounts",), rename),
            (("accounts",), verify),
        ):
            with as_role(conn, "authenticated", claims(*scopes)) as cur:
                cur.execute(statement, params)
    assert db.execute("select count(*) as n from public.jobs").fetchone()["n"] == 2
    # A session (no token in its claims) is not limited.
    with (
        connect(functions_db_url, autocommit=True) as conn,
        as_role(conn, "authenticated", alice.claims) as cur,
    ):
        cur.execute(*rename)
        assert cur.rowcount == 1
