"""Per-user rate limits held in the database, shared by every function process."""

from __future__ import annotations

import json
import re
import uuid

import psycopg
import pytest

from switchyard.db import connect
from tests.functions.helpers import bearer, mt5_body

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


# ---------------------------------------------------------------------------------
# private.take_rate_limit itself: only the functions' login role charges, and it checks
# what it is given before it computes anything from it
# ---------------------------------------------------------------------------------

CHARGE = (
    "select allowed, retry_after_s from private.take_rate_limit("
    "%(user_id)s, %(buckets)s::text[], %(limits)s::integer[], %(window_s)s)"
)


def charge(conn, user_id, *, buckets=("all",), limits=(5,), window_s=60):
    params = {
        "user_id": user_id,
        "buckets": list(buckets),
        "limits": list(limits),
        "window_s": window_s,
    }
    return conn.execute(CHARGE, params).fetchone()


@pytest.mark.parametrize("role", ["authenticated", "anon"])
def test_a_user_cannot_charge_or_reset_their_own_limit(db, functions_db_url, make_user, role):
    alice = make_user("alice@example.com")
    overloads = db.execute(
        """select p.oid::regprocedure::text as name,
                  has_function_privilege('anon', p.oid, 'execute')
                  or has_function_privilege('authenticated', p.oid, 'execute') as api_may
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'private' and p.proname = 'take_rate_limit'"""
    ).fetchall()
    assert overloads, "private.take_rate_limit exists"
    assert [o["name"] for o in overloads if o["api_may"]] == []
    with connect(functions_db_url, autocommit=True) as conn, conn.transaction(force_rollback=True):
        conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (role, json.dumps({"sub": str(alice.id), "role": role})),
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            charge(conn, alice.id)


def test_the_functions_login_role_charges_the_user_it_names(functions_db_url, make_user, db):
    alice = make_user("alice@example.com")
    with connect(functions_db_url, autocommit=True) as conn:
        answers = [charge(conn, alice.id, limits=(2,)) for _ in range(3)]
    assert [a["allowed"] for a in answers] == [True, True, False]
    assert answers[2]["retry_after_s"] >= 1
    row = db.execute("select user_id, hits from private.rate_limit_counters").fetchone()
    assert row == {"user_id": alice.id, "hits": 2}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"window_s": 0}, "window must be 1 to 86400 seconds, not 0"),
        ({"window_s": -60}, "window must be 1 to 86400 seconds, not -60"),
        ({"window_s": None}, "window must be 1 to 86400 seconds, not null"),
        ({"limits": (0,)}, "one limit (at least 1) per named bucket"),
        ({"buckets": (), "limits": ()}, "one limit (at least 1) per named bucket"),
        ({"buckets": ("all", "credentials"), "limits": (5,)}, "one limit"),
        ({"buckets": (None,)}, "one limit (at least 1) per named bucket"),
    ],
)
def test_a_bad_window_or_limit_is_a_clear_error_not_a_division_by_zero(
    functions_db_url, make_user, db, overrides, message
):
    alice = make_user("alice@example.com")
    with (
        connect(functions_db_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InvalidParameterValue, match=re.escape(message)),
    ):
        charge(conn, alice.id, **overrides)
    assert db.execute("select count(*) as n from private.rate_limit_counters").fetchone()["n"] == 0


def test_charging_a_user_that_does_not_exist_is_28000_not_a_foreign_key_violation(
    functions_db_url,
):
    with (
        connect(functions_db_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InvalidAuthorizationSpecification),
    ):
        charge(conn, uuid.uuid4())
