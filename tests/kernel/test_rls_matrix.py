"""Invariant 1: every exposed table × operation × actor gives exactly the expected outcome.

The actors connect as the functions do (login role `switchyard_functions`, then SET ROLE
with the JWT claims set); each cell runs in its own rolled-back transaction so cells
never see each other's effects. `test_the_matrix_catches_a_permissive_policy` proves the
matrix would fail if a policy were loosened.

The second half pins, from the catalog, every privilege the API roles and the functions'
login role hold on the routines, sequences and schemas of the exposed schemas
(supabase/config.toml), `private` and `auth`: a new function or sequence fails the suite
until it is listed here with who may use it.
"""

from __future__ import annotations

import json
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from switchyard.db import Connection, connect
from switchyard.migrate import migrate

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
        rows["public.api_tokens"] = _id(
            db,
            """insert into public.api_tokens (user_id, name, scopes, token_hash, expires_at)
                      values (%s, 'cron', '{read}', sha256('t'::bytea), now() + interval '1 day')
                   returning id""",
            (alice,),
        )
        rows["public.audit_log"] = _id(
            db,
            "select id from public.audit_log where user_id = %s and action = 'account.created'",
            (alice,),
        )
        seed_signals(db, alice, account, rows)
        # written by the accounts trigger above
        rows["public.events"] = _id(
            db,
            "select id from public.events where user_id = %s and type = 'account' limit 1",
            (alice,),
        )
    return Fixture(alice=alice, bob=bob, rows=rows)


def seed_signals(db: Connection, alice: uuid.UUID, account: Any, rows: dict[str, Any]) -> None:
    """Alice's private channel, her own account subscribed to it, one signal, its delivery."""
    channel = _id(
        db,
        "insert into public.signal_channels (user_id, name) values (%s, 'mine') returning id",
        (alice,),
    )
    rows["public.signal_channels"] = channel
    rows["private.signal_channel_secrets"] = _id(
        db,
        "insert into private.signal_channel_secrets (channel_id, secret_hash) "
        "values (%s, sha256('s')) returning channel_id as id",
        (channel,),
    )
    rows["public.signal_subscriptions"] = _id(
        db,
        """insert into public.signal_subscriptions (user_id, channel_id, account_id, sizing)
           values (%s, %s, %s, '{"mode": "fixed", "volume": "0.01"}') returning id""",
        (alice, channel, account),
    )
    rows["public.signals"] = _id(
        db,
        """insert into public.signals (channel_id, user_id, body_hash, action, symbol)
           values (%s, %s, sha256('b'), 'buy', 'EURUSD') returning id""",
        (channel, alice),
    )
    rows["public.signal_skips"] = _id(
        db,
        """insert into public.signal_skips (signal_id, subscription_id, user_id, reason)
           values (%s, %s, %s, 'auto_trade_off') returning id""",
        (rows["public.signals"], rows["public.signal_subscriptions"], alice),
    )


def _id(db: Connection, query: Any, params: tuple[Any, ...]) -> Any:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return row["id"]


def statement(
    table: str, op: str, row_id: Any, owner: uuid.UUID
) -> tuple[sql.Composable, tuple[Any, ...]]:
    schema, name = table.split(".")
    ident = sql.Identifier(schema, name)
    key = sql.Identifier(KEYS.get(table, "id"))
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


#: The column a table's rows are found by, when it is not `id`.
KEYS = {
    "private.account_secrets": "account_id",
    "private.signal_channel_secrets": "channel_id",
}

UPDATABLE = {
    "public.accounts": "name",
    "private.account_secrets": "ciphertext",
    "public.jobs": "status",
    "public.orders": "status",
    "public.positions": "volume",
    "public.deals": "price",
    "public.balance_snapshots": "balance",
    "public.audit_log": "action",
    "public.events": "type",
    "public.api_tokens": "revoked_at",
    "public.signal_channels": "name",
    "private.signal_channel_secrets": "secret_hash",
    "public.signal_subscriptions": "auto_trade",
    "public.signals": "queued",
    "public.signal_skips": "reason",
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
    "public.events": sql.SQL(
        "insert into public.events (user_id, type, subject_id, data) "
        "values (%s, 'job', gen_random_uuid(), '{}')"
    ),
    "public.api_tokens": sql.SQL(
        "insert into public.api_tokens (user_id, name, scopes, token_hash, expires_at) "
        "values (%s, 'forged', '{read}', sha256('forged'::bytea), now() + interval '1 day')"
    ),
    "public.signal_channels": sql.SQL(
        "insert into public.signal_channels (user_id, name) values (%s, 'forged')"
    ),
    "private.signal_channel_secrets": sql.SQL(
        "insert into private.signal_channel_secrets (channel_id, secret_hash) "
        "select id, sha256('x') from public.signal_channels where user_id = %s limit 1"
    ),
    "public.signal_subscriptions": sql.SQL(
        "insert into public.signal_subscriptions (user_id, channel_id, account_id, sizing) "
        'select c.user_id, c.id, a.id, \'{"mode": "fixed", "volume": 1}\' '
        "from public.signal_channels c join public.accounts a on a.user_id = c.user_id "
        "where c.user_id = %s limit 1"
    ),
    "public.signals": sql.SQL(
        "insert into public.signals (channel_id, user_id, body_hash, action, symbol) "
        "select id, user_id, sha256('f'), 'buy', 'EURUSD' from public.signal_channels "
        "where user_id = %s limit 1"
    ),
    "public.signal_skips": sql.SQL(
        "insert into public.signal_skips (signal_id, user_id, reason) "
        "select id, user_id, 'auto_trade_off' from public.signals "
        "where user_id = %s limit 1"
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
OWN_READ_UPDATE_DELETE = {
    "select": {"owner": 1, "other": 0, "anon": DENIED, "no_claims": 0},
    "insert": dict.fromkeys(ACTORS, DENIED),
    "update": {"owner": 1, "other": 0, "anon": DENIED, "no_claims": 0},
    "delete": {"owner": 1, "other": 0, "anon": DENIED, "no_claims": 0},
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
    "public.events": OWN_ONLY_READ,
    # Created, revoked and used through private functions only; the hash is not readable.
    "public.api_tokens": OWN_ONLY_READ,
    # The owner renames or deletes their channel; creating one (with its secret) goes
    # through private.create_signal_channel. Another user's private channel is invisible.
    "public.signal_channels": OWN_READ_UPDATE_DELETE,
    "private.signal_channel_secrets": {
        op: dict.fromkeys(ACTORS, DENIED) for op in ("select", "insert", "update", "delete")
    },
    # The subscriber changes settings or unsubscribes; subscribing is private.subscribe.
    "public.signal_subscriptions": OWN_READ_UPDATE_DELETE,
    "public.signals": OWN_ONLY_READ,
    "public.signal_skips": OWN_ONLY_READ,
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


def test_the_service_role_reads_secrets_and_nobody_else_does(db):
    fx = seed(db)
    with db.transaction(force_rollback=True):
        db.execute("set local role service_role")
        rows = db.execute("select count(*) as n from private.account_secrets").fetchone()
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


# ---------------------------------------------------------------------------------
# Routines, sequences and schemas: who holds which privilege, from the catalog
# ---------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]

#: The roles pinned below: the API roles, and the functions' login role by itself
#: (NOINHERIT: what it holds before it switches into anon or authenticated).
ROLES = ("anon", "authenticated", "switchyard_functions")
NOBODY: frozenset[str] = frozenset()
EVERYONE = frozenset(ROLES)
SIGNED_IN = frozenset({"authenticated"})
FUNCTIONS_LOGIN = frozenset({"switchyard_functions"})


def covered_schemas() -> list[str]:
    """The schemas the Supabase API exposes, and ours that it must not."""
    config = tomllib.loads((REPO / "supabase" / "config.toml").read_text())
    return [*config["api"]["schemas"], "private", "auth"]


#: Every routine in the covered schemas → the roles that may EXECUTE it.
EXECUTE: dict[str, frozenset[str]] = {
    # Supabase's claim readers (sql/compat stands in for them): policies and column
    # defaults call them as the caller, and they read only the caller's own claims.
    "auth.email()": EVERYONE,
    "auth.jwt()": EVERYONE,
    "auth.role()": EVERYONE,
    "auth.uid()": EVERYONE,
    # What a signed-in user asks for; each checks auth.uid() itself.
    "private.connect_account(uuid, text, text, text, text, text, text, text, text, jsonb, "
    "boolean, text, text)": SIGNED_IN,
    "private.enqueue_job(uuid, text, jsonb, text, text, integer)": SIGNED_IN,
    "private.replace_credentials(uuid, text, text, text, text)": SIGNED_IN,
    "private.switch_account(uuid)": SIGNED_IN,
    "private.create_api_token(text, text[], integer, bytea)": SIGNED_IN,
    "private.revoke_api_token(uuid)": SIGNED_IN,
    "private.expire_job(uuid)": SIGNED_IN,
    "private.create_signal_channel(text, boolean, bytea)": SIGNED_IN,
    "private.rotate_signal_secret(uuid, bytea)": SIGNED_IN,
    "private.subscribe(uuid, uuid, jsonb, jsonb, integer, numeric, numeric, numeric, integer, "
    "boolean)": SIGNED_IN,
    # The channel's select policy calls it as the caller; it answers about the caller only.
    "private.subscribes_to(uuid)": SIGNED_IN,
    # The webhook has no user: the functions' login role delivers, checking the secret.
    "private.receive_signal(uuid, bytea, jsonb, bytea, integer, integer, integer)": (
        FUNCTIONS_LOGIN
    ),
    "private.same_digest(bytea, bytea)": NOBODY,
    "private.audit_origin()": NOBODY,
    # The event stream compares a Last-Event-ID with the newest pruned event: no user data.
    "private.event_horizon()": SIGNED_IN,
    # Only the functions' path charges the rate limit, before it becomes the user.
    "private.take_rate_limit(uuid, text[], integer[], integer)": FUNCTIONS_LOGIN,
    "private.charge_request(uuid, text[], integer[], integer)": FUNCTIONS_LOGIN,
    # An API token's owner and scopes, looked up before the request becomes that owner.
    "private.use_api_token(bytea, text, text, text, text, text)": FUNCTIONS_LOGIN,
    # The worker's (service_role), the triggers' and the helpers' of the functions above.
    "private.acquire_terminal(text, text, double precision, text[])": NOBODY,
    "private.audit_account_change()": NOBODY,
    "private.audit_job_created()": NOBODY,
    "private.audit_secret_change()": NOBODY,
    "private.cancel_jobs_of_deleted_account()": NOBODY,
    "private.claim_job(text, double precision, text[], uuid, double precision, text)": NOBODY,
    "private.expire_jobs()": NOBODY,
    "private.fail_unserved_jobs()": NOBODY,
    # The event log's writers (triggers) and its pruning (the worker's scheduler).
    "private.account_event()": NOBODY,
    "private.account_event_data(accounts)": NOBODY,
    "private.job_event()": NOBODY,
    "private.job_event_data(jobs)": NOBODY,
    "private.job_events_inserted()": NOBODY,
    "private.order_event()": NOBODY,
    "private.prune_events(integer)": NOBODY,
    "private.record_event(uuid, text, uuid, jsonb)": NOBODY,
    "private.notify_job()": NOBODY,
    "private.notify_jobs_inserted()": NOBODY,
    "private.own_account(uuid)": NOBODY,
    "private.promote_default_on_verify()": NOBODY,
    "private.require_user()": NOBODY,
    "private.server_patterns(text[])": NOBODY,
    "private.serves(text[], text)": NOBODY,
    "private.require_second_factor(text)": NOBODY,
    "private.second_factor_missing()": NOBODY,
    "private.second_factor_for_account_delete()": NOBODY,
    "private.second_factor_for_credentials()": NOBODY,
    "private.require_token_scope(text)": NOBODY,
    "private.token_scope_for_account()": NOBODY,
    "private.token_scope_for_job()": NOBODY,
    "private.set_job_venue()": NOBODY,
    "private.touch_updated_at()": NOBODY,
    "private.write_audit(uuid, uuid, uuid, text, jsonb)": NOBODY,
}

SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")
#: Every sequence → role → what it holds. Nobody holds anything: identity columns need no
#: sequence privilege, and a `setval` by anon would break every audited write.
SEQUENCES: dict[str, dict[str, frozenset[str]]] = {
    "public.audit_log_id_seq": {},
    "public.balance_snapshots_id_seq": {},
    "public.signal_skips_id_seq": {},
    "public.deals_seq_seq": {},
    "public.events_id_seq": {},
    # GoTrue's own (sql/compat/10_supabase_auth.sql): nobody of the API touches it.
    "auth.refresh_tokens_id_seq": {},
}

#: Every covered schema that exists → (roles with USAGE, roles with CREATE).
SCHEMAS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "public": (EVERYONE, NOBODY),  # the API's; PUBLIC has USAGE, and so every role
    "private": (frozenset({"authenticated", "switchyard_functions"}), NOBODY),
    "auth": (frozenset({"anon", "authenticated"}), NOBODY),
}


def catalog_routines(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        """select n.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')'
                  as name, p.oid
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = any(%s)""",
        (covered_schemas(),),
    ).fetchall()
    return {r["name"]: r["oid"] for r in rows}


def catalog_sequences(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        """select n.nspname || '.' || c.relname as name, c.oid
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind = 'S' and n.nspname = any(%s)""",
        (covered_schemas(),),
    ).fetchall()
    return {r["name"]: r["oid"] for r in rows}


def catalog_schemas(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        "select nspname as name, oid from pg_namespace where nspname = any(%s)",
        (covered_schemas(),),
    ).fetchall()
    return {r["name"]: r["oid"] for r in rows}


def _holds(conn: Connection, function: str, role: str, oid: int, privilege: str) -> bool:
    query = sql.SQL("select {}(%s, %s::oid, %s) as yes").format(sql.Identifier(function))
    row = conn.execute(query, (role, oid, privilege)).fetchone()
    assert row is not None
    return bool(row["yes"])


def privilege_mismatches(conn: Connection) -> list[str]:
    """Every way the catalog differs from EXECUTE, SEQUENCES and SCHEMAS."""
    found: list[str] = []
    for kind, listed, present in (
        ("routine", EXECUTE, catalog_routines(conn)),
        ("sequence", SEQUENCES, catalog_sequences(conn)),
        ("schema", SCHEMAS, catalog_schemas(conn)),
    ):
        found += [
            f"{kind} {name} is not in the matrix" for name in sorted(set(present) - set(listed))
        ]
        found += [f"{kind} {name} no longer exists" for name in sorted(set(listed) - set(present))]
    for name, oid in catalog_routines(conn).items():
        for role in ROLES:
            held = _holds(conn, "has_function_privilege", role, oid, "EXECUTE")
            if name in EXECUTE and held != (role in EXECUTE[name]):
                found.append(f"EXECUTE on {name} for {role}: expected {not held}, got {held}")
    for name, oid in catalog_sequences(conn).items():
        for role in ROLES:
            held_set = {
                p
                for p in SEQUENCE_PRIVILEGES
                if _holds(conn, "has_sequence_privilege", role, oid, p)
            }
            expected_set = set(SEQUENCES.get(name, {}).get(role, NOBODY))
            if name in SEQUENCES and held_set != expected_set:
                found.append(
                    f"{name} for {role}: expected {sorted(expected_set)}, got {sorted(held_set)}"
                )
    for name, oid in catalog_schemas(conn).items():
        for role in ROLES:
            for privilege, allowed in zip(
                ("USAGE", "CREATE"), SCHEMAS.get(name, (NOBODY, NOBODY)), strict=True
            ):
                held = _holds(conn, "has_schema_privilege", role, oid, privilege)
                if name in SCHEMAS and held != (role in allowed):
                    found.append(
                        f"{privilege} on schema {name} for {role}: expected {not held}, got {held}"
                    )
    return found


def test_every_routine_sequence_and_schema_holds_exactly_the_listed_privileges(db):
    assert privilege_mismatches(db) == []


def test_the_privilege_matrix_catches_a_grant_and_an_unlisted_object(db):
    db.execute(
        "grant execute on function private.enqueue_job(uuid, text, jsonb, text, text, integer) to anon"
    )
    db.execute("grant usage on sequence public.audit_log_id_seq to authenticated")
    db.execute("create sequence private.tickets")
    db.execute("create function public.whoami() returns text language sql as 'select current_user'")
    assert privilege_mismatches(db) == [
        "routine public.whoami() is not in the matrix",
        "sequence private.tickets is not in the matrix",
        "EXECUTE on private.enqueue_job(uuid, text, jsonb, text, text, integer) for anon: expected False, got True",
        "public.audit_log_id_seq for authenticated: expected [], got ['USAGE']",
    ]


@pytest.mark.parametrize("actor", ["anon", "owner", "login"])
@pytest.mark.parametrize(
    "statement",
    [
        "select setval('public.audit_log_id_seq', 1)",
        "select nextval('public.audit_log_id_seq')",
        "select last_value from public.audit_log_id_seq",
        "select setval('public.balance_snapshots_id_seq', 1)",
        "select setval('public.deals_seq_seq', 1)",
        "select last_value from public.deals_seq_seq",
    ],
)
def test_nobody_of_the_api_can_move_or_read_a_sequence(db, functions_db_url, actor, statement):
    fx = seed(db)
    before = db.execute("select last_value from public.audit_log_id_seq").fetchone()
    with connect(functions_db_url, autocommit=True) as conn, conn.transaction(force_rollback=True):
        if actor != "login":  # the functions' login role itself, before it switches
            role, claims = claims_for(actor, fx)
            conn.execute(
                "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
                (role, claims),
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    assert db.execute("select last_value from public.audit_log_id_seq").fetchone() == before


def _closed_to_the_api(conn: Connection) -> dict[str, bool]:
    """Objects created now by the migrating role: does anon or authenticated hold anything?"""
    suffix = uuid.uuid4().hex[:8]
    conn.execute(f"create table public.later_{suffix} (id bigint generated always as identity)")
    conn.execute(f"create sequence public.later_seq_{suffix}")
    conn.execute(
        f"create function public.later_fn_{suffix}() returns int language sql as 'select 1'"
    )
    conn.execute(
        f"create function private.later_fn_{suffix}() returns int language sql as 'select 1'"
    )
    held: dict[str, bool] = {}
    for role in ("anon", "authenticated"):
        row = conn.execute(
            """select has_table_privilege(%(role)s, %(table)s::regclass,
                        'select,insert,update,delete,truncate,references,trigger') as table_,
                      has_sequence_privilege(%(role)s, %(seq)s::regclass, 'usage,select,update') as seq,
                      has_function_privilege(%(role)s, %(fn)s::regprocedure, 'execute') as fn,
                      has_function_privilege(%(role)s, %(pfn)s::regprocedure, 'execute') as private_fn""",
            {
                "role": role,
                "table": f"public.later_{suffix}",
                "seq": f"public.later_seq_{suffix}",
                "fn": f"public.later_fn_{suffix}()",
                "pfn": f"private.later_fn_{suffix}()",
            },
        ).fetchone()
        assert row is not None
        held |= {f"{kind} for {role}": value for kind, value in row.items()}
    return held


def test_what_the_migrating_role_creates_later_starts_closed_even_after_migrating_again(db):
    first = _closed_to_the_api(db)
    migrate(db)  # sql/compat again, as every `switchyard db migrate` applies it
    again = _closed_to_the_api(db)
    assert [k for k, v in first.items() if v] == []
    assert [k for k, v in again.items() if v] == []


# ---------------------------------------------------------------------------------
# Signals across users: the channel's owner and a subscriber see different halves
# ---------------------------------------------------------------------------------


def _as(conn: Connection, user: uuid.UUID, query: str, params: tuple[Any, ...] = ()) -> Any:
    with conn.transaction(force_rollback=True):
        conn.execute(
            "select set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(user), "role": "authenticated"}),),
        )
        return conn.execute(query, params).fetchall()


def seed_subscriber(db: Connection, fx: Fixture) -> dict[str, Any]:
    """Bob's account subscribed to alice's channel, made public; a signal delivered to him."""
    channel = fx.rows["public.signal_channels"]
    db.execute("update public.signal_channels set public = true where id = %s", (channel,))
    account = db.execute("select id from public.accounts where user_id = %s", (fx.bob,)).fetchone()[
        "id"
    ]  # type: ignore[index]
    subscription = _id(
        db,
        """insert into public.signal_subscriptions (user_id, channel_id, account_id, sizing)
           values (%s, %s, %s, '{"mode": "fixed", "volume": "0.02"}') returning id""",
        (fx.bob, channel, account),
    )
    db.execute(
        """insert into public.signal_skips (signal_id, subscription_id, user_id, account_id,
                                            reason)
           values (%s, %s, %s, %s, 'symbol_not_mapped')""",
        (fx.rows["public.signals"], subscription, fx.bob, account),
    )
    return {"channel": channel, "subscription": subscription, "account": account}


def test_the_channel_owner_never_sees_a_subscriber_or_their_account(db, functions_db_url):
    fx = seed(db)
    bob = seed_subscriber(db, fx)
    with connect(functions_db_url, autocommit=True) as conn:
        subs = _as(conn, fx.alice, "select account_id from public.signal_subscriptions")
        deliveries = _as(conn, fx.alice, "select user_id from public.signal_skips")
        accounts = _as(
            conn, fx.alice, "select id from public.accounts where id = %s", (bob["account"],)
        )
        signals = _as(conn, fx.alice, "select queued, skipped from public.signals")
    assert [r["account_id"] for r in subs] == [fx.rows["public.accounts"]]  # her own only
    assert [r["user_id"] for r in deliveries] == [fx.alice]
    assert accounts == []
    assert len(signals) == 1  # her channel's deliveries, as counts


def test_a_subscriber_sees_the_channel_name_but_not_its_secret_nor_its_signals(
    db, functions_db_url
):
    fx = seed(db)
    bob = seed_subscriber(db, fx)
    with connect(functions_db_url, autocommit=True) as conn:
        channels = _as(conn, fx.bob, "select name from public.signal_channels")
        signals = _as(conn, fx.bob, "select id from public.signals")
        deliveries = _as(conn, fx.bob, "select reason from public.signal_skips")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as(conn, fx.bob, "select secret_hash from private.signal_channel_secrets")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor may he rename it
            _as(conn, fx.bob, "update public.signal_subscriptions set channel_id = channel_id")
        renamed = _as(conn, fx.bob, "update public.signal_channels set name = 'x' returning id")
    assert [r["name"] for r in channels] == ["mine"]
    assert signals == []
    assert [r["reason"] for r in deliveries] == ["symbol_not_mapped"]
    assert renamed == []
    assert bob["subscription"] is not None


def test_a_private_channel_is_visible_to_its_subscriber_only(db, functions_db_url):
    fx = seed(db)
    bob = seed_subscriber(db, fx)
    db.execute("update public.signal_channels set public = false where id = %s", (bob["channel"],))
    carol = uuid.uuid4()
    db.execute("insert into auth.users (id, email) values (%s, 'carol@example.com')", (carol,))
    with connect(functions_db_url, autocommit=True) as conn:
        assert len(_as(conn, fx.bob, "select id from public.signal_channels")) == 1
        assert _as(conn, carol, "select id from public.signal_channels") == []


TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def unlisted_relations_open_to_the_api(conn: Connection) -> list[str]:
    """Every table, view or materialised view in our schemas that the matrix does not pin
    and that has no RLS or that any API role holds a privilege on. A private table is
    reached only through security-definer functions, so it needs neither."""
    rows = conn.execute(
        """select n.nspname || '.' || c.relname as name, c.oid, c.relkind, c.relrowsecurity
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f')""",
        ([s for s in covered_schemas() if s != "auth"],),
    ).fetchall()
    found: list[str] = []
    for row in rows:
        if row["name"] in EXPECTED:
            continue
        if row["relkind"] in ("r", "p") and not row["relrowsecurity"]:
            found.append(f"{row['name']} has no row-level security")
        found += [
            f"{row['name']}: {role} holds {privilege}"
            for role in ROLES
            for privilege in TABLE_PRIVILEGES
            if _holds(conn, "has_table_privilege", role, row["oid"], privilege)
        ]
    return found


def test_every_table_outside_the_matrix_is_closed_to_the_api(db):
    assert unlisted_relations_open_to_the_api(db) == []


def test_the_closed_table_check_catches_a_grant_a_view_and_a_table_without_rls(db):
    db.execute("grant select on private.workers to authenticated")
    db.execute("create view public.peek as select 1 as one")
    db.execute("grant select on public.peek to anon")
    db.execute("alter table private.terminals disable row level security")
    found = unlisted_relations_open_to_the_api(db)
    assert "private.workers: authenticated holds SELECT" in found
    assert "public.peek: anon holds SELECT" in found
    assert "private.terminals has no row-level security" in found
