"""Invariant 1: every exposed table × operation × actor gives exactly the expected outcome.

The actors connect as the functions do (login role `authenticator`, then SET ROLE with
the JWT claims set); each cell runs in its own rolled-back transaction so cells never
see each other's effects. `test_the_matrix_catches_a_permissive_policy` proves the
matrix would fail if a policy were loosened.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from functions.core.db import Connection, connect

DENIED = "denied"


@dataclass(frozen=True)
class Fixture:
    alice: uuid.UUID
    bob: uuid.UUID
    rows: dict[str, Any]  # table → id of alice's row


def seed(db: Connection) -> Fixture:
    """One row of alice's in every table, and an account of bob's."""
    alice, bob = uuid.uuid4(), uuid.uuid4()
    for uid, email in ((alice, "alice@example.com"), (bob, "bob@example.com")):
        db.execute("insert into auth.users (id, email) values (%s, %s)", (uid, email))
    rows: dict[str, Any] = {}
    with db.transaction():
        for uid, login in ((alice, "1001"), (bob, "2002")):
            acc = db.execute(
                """insert into public.accounts (user_id, kind, venue, name, login, server, environment)
                   values (%s, 'mt5', 'mt5', 'main', %s, 'Demo-1', 'demo') returning id""",
                (uid, login),
            ).fetchone()
            assert acc is not None
            db.execute(
                "insert into private.account_secrets (account_id, ciphertext, key_id) values (%s, 'ct', 'k')",
                (acc["id"],),
            )
            if uid == alice:
                rows["public.accounts"] = acc["id"]
                rows["private.account_secrets"] = acc["id"]
        account = rows["public.accounts"]
        rows["public.jobs"] = _id(
            db,
            "insert into public.jobs (user_id, account_id, kind) values (%s, %s, 'sync') returning id",
            (alice, account),
        )
        rows["public.orders"] = _id(
            db,
            """insert into public.orders (user_id, account_id, job_id, client_order_id, action, symbol, status)
                      values (%s, %s, %s, 'syabc', 'open', 'EURUSD', 'sent') returning id""",
            (alice, account, rows["public.jobs"]),
        )
        rows["public.positions"] = _id(
            db,
            """insert into public.positions (user_id, account_id, venue_position_id, symbol, side, volume, open_price)
                      values (%s, %s, '77', 'EURUSD', 'buy', 1, 1.1) returning id""",
            (alice, account),
        )
        rows["public.deals"] = _id(
            db,
            """insert into public.deals (user_id, account_id, venue_deal_id, symbol, volume, price, executed_at)
                      values (%s, %s, '88', 'EURUSD', 1, 1.1, now()) returning id""",
            (alice, account),
        )
        rows["public.balance_snapshots"] = _id(
            db,
            """insert into public.balance_snapshots (user_id, account_id, balance, currency)
                      values (%s, %s, 1000, 'USD') returning id""",
            (alice, account),
        )
        rows["public.audit_log"] = _id(
            db,
            "select id from public.audit_log where user_id = %s and action = 'account.created'",
            (alice,),
        )
    return Fixture(alice=alice, bob=bob, rows=rows)


def _id(db: Connection, query: Any, params: tuple[Any, ...]) -> Any:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return row["id"]


def statement(
    table: str, op: str, row_id: Any, owner: uuid.UUID
) -> tuple[sql.Composable, tuple[Any, ...]]:
    schema, name = table.split(".")
    ident = sql.Identifier(schema, name)
    key = sql.Identifier("account_id" if table == "private.account_secrets" else "id")
    if op == "select":
        return sql.SQL("select count(*) as n from {} where {} = %s").format(ident, key), (row_id,)
    if op == "update":
        column = UPDATABLE[table]
        return (
            sql.SQL("update {} set {} = {} where {} = %s").format(
                ident, sql.Identifier(column), sql.Identifier(column), key
            ),
            (row_id,),
        )
    if op == "update_status":
        return sql.SQL("update {} set status = 'verified' where id = %s").format(ident), (row_id,)
    if op == "delete":
        return sql.SQL("delete from {} where {} = %s").format(ident, key), (row_id,)
    if op == "insert":
        return INSERTS[table], (owner,)
    raise AssertionError(op)


UPDATABLE = {
    "public.accounts": "name",
    "private.account_secrets": "ciphertext",
    "public.jobs": "status",
    "public.orders": "status",
    "public.positions": "volume",
    "public.deals": "price",
    "public.balance_snapshots": "balance",
    "public.audit_log": "action",
}

INSERTS: dict[str, sql.Composable] = {
    "public.accounts": sql.SQL(
        "insert into public.accounts (user_id, kind, venue, name, login, server, environment) "
        "values (%s, 'mt5', 'mt5', 'forged', '9999', 'Demo-1', 'demo')"
    ),
    "private.account_secrets": sql.SQL(
        "insert into private.account_secrets (account_id, ciphertext, key_id) "
        "select id, 'x', 'k' from public.accounts where user_id = %s limit 1"
    ),
    "public.jobs": sql.SQL("insert into public.jobs (user_id, kind) values (%s, 'sync')"),
    "public.orders": sql.SQL(
        "insert into public.orders (user_id, client_order_id, action, symbol, status) "
        "values (%s, 'forged', 'open', 'EURUSD', 'filled')"
    ),
    "public.positions": sql.SQL(
        "insert into public.positions (user_id, account_id, venue_position_id, symbol, side, volume, open_price) "
        "select user_id, id, 'f', 'EURUSD', 'buy', 1, 1 from public.accounts where user_id = %s limit 1"
    ),
    "public.deals": sql.SQL(
        "insert into public.deals (user_id, venue_deal_id, symbol, volume, price, executed_at) "
        "values (%s, 'f', 'EURUSD', 1, 1, now())"
    ),
    "public.balance_snapshots": sql.SQL(
        "insert into public.balance_snapshots (user_id, account_id, balance, currency) "
        "select user_id, id, 1, 'USD' from public.accounts where user_id = %s limit 1"
    ),
    "public.audit_log": sql.SQL(
        "insert into public.audit_log (user_id, action, actor) values (%s, 'forged', 'me')"
    ),
}

ACTORS = ("owner", "other", "anon", "no_claims")

# The whole matrix: table → operation → actor → outcome (rows affected/seen, or DENIED).
OWN_ONLY_READ = {
    "select": {"owner": 1, "other": 0, "anon": DENIED, "no_claims": 0},
    "insert": dict.fromkeys(ACTORS, DENIED),
    "update": dict.fromkeys(ACTORS, DENIED),
    "delete": dict.fromkeys(ACTORS, DENIED),
}
EXPECTED: dict[str, dict[str, dict[str, Any]]] = {
    "public.accounts": {
        "select": {"owner": 1, "other": 0, "anon": DENIED, "no_claims": 0},
        "insert": dict.fromkeys(ACTORS, DENIED),
        "update": {"owner": 1, "other": 0, "anon": DENIED, "no_claims": 0},
        "update_status": dict.fromkeys(ACTORS, DENIED),
        "delete": {"owner": 1, "other": 0, "anon": DENIED, "no_claims": 0},
    },
    "private.account_secrets": {
        op: dict.fromkeys(ACTORS, DENIED) for op in ("select", "insert", "update", "delete")
    },
    "public.jobs": OWN_ONLY_READ,
    "public.orders": OWN_ONLY_READ,
    "public.positions": OWN_ONLY_READ,
    "public.deals": OWN_ONLY_READ,
    "public.balance_snapshots": OWN_ONLY_READ,
    "public.audit_log": OWN_ONLY_READ,
}


def claims_for(actor: str, fx: Fixture) -> tuple[str, str]:
    if actor == "owner":
        return "authenticated", json.dumps({"sub": str(fx.alice), "role": "authenticated"})
    if actor == "other":
        return "authenticated", json.dumps({"sub": str(fx.bob), "role": "authenticated"})
    if actor == "anon":
        return "anon", json.dumps({"role": "anon"})
    return "authenticated", ""


def outcome(conn: Connection, actor: str, fx: Fixture, table: str, op: str) -> Any:
    role, claims = claims_for(actor, fx)
    query, params = statement(table, op, fx.rows[table], fx.alice)
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(
                "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
                (role, claims),
            )
            cur = conn.execute(query, params)
            return cur.fetchone()["n"] if op == "select" else cur.rowcount  # type: ignore[index]
    except psycopg.errors.InsufficientPrivilege:
        return DENIED


def mismatches(conn: Connection, fx: Fixture, table: str) -> list[str]:
    found = []
    for op, by_actor in EXPECTED[table].items():
        for actor, expected in by_actor.items():
            got = outcome(conn, actor, fx, table, op)
            if got != expected:
                found.append(f"{table} {op} as {actor}: expected {expected}, got {got}")
    return found


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_each_actor_gets_exactly_the_expected_outcome(db, functions_db_url, table):
    fx = seed(db)
    with connect(functions_db_url, autocommit=True) as conn:
        assert mismatches(conn, fx, table) == []


def test_the_service_role_reads_secrets_and_nobody_else_does(db, functions_db_url):
    fx = seed(db)
    with connect(functions_db_url, autocommit=True) as conn, conn.transaction(force_rollback=True):
        conn.execute("set local role service_role")
        rows = conn.execute("select count(*) as n from private.account_secrets").fetchone()
    assert rows["n"] == 2
    assert fx.rows["private.account_secrets"] is not None


def test_the_functions_login_role_reads_nothing_by_itself(db, functions_db_url):
    seed(db)
    with connect(functions_db_url, autocommit=True) as conn:
        for table in EXPECTED:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(
                    sql.SQL("select 1 from {} limit 1").format(sql.Identifier(*table.split(".")))
                )


def test_every_exposed_table_has_rls_and_no_grant_to_anon(db):
    rows = db.execute(
        """select c.relname, c.relrowsecurity,
                  has_table_privilege('anon', c.oid, 'select,insert,update,delete') as anon_any
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind = 'r'"""
    ).fetchall()
    # A new exposed table must join the matrix above before this passes.
    assert {r["relname"] for r in rows} == {
        t.split(".")[1] for t in EXPECTED if t.startswith("public.")
    }
    assert [r["relname"] for r in rows if not r["relrowsecurity"] or r["anon_any"]] == []


def test_the_matrix_catches_a_permissive_policy(db, functions_db_url):
    fx = seed(db)
    db.execute("alter policy orders_select_own on public.orders using (true)")
    with connect(functions_db_url, autocommit=True) as conn:
        assert mismatches(conn, fx, "public.orders") == [
            "public.orders select as other: expected 0, got 1",
            "public.orders select as no_claims: expected 0, got 1",
        ]


def test_rls_policies_use_the_cached_uid_form(db):
    """`(select auth.uid())` is evaluated once per statement, not once per row."""
    rows = db.execute(
        "select tablename, policyname, qual from pg_policies where schemaname = 'public'"
    ).fetchall()
    assert rows
    for row in rows:
        assert "( SELECT auth.uid() AS uid)" in row["qual"], row
