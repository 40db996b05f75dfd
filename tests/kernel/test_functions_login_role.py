"""The functions' own login role: it becomes `anon` or `authenticated`, and nothing else.

`authenticator` (PostgREST's login) can become `service_role` and so read every
ciphertext; the functions log in as `switchyard_functions` instead, created by the
migrations without a password, NOINHERIT, a member of anon and authenticated only.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from switchyard.db import connect
from switchyard.paths import migrations_dir
from switchyard.settings import FUNCTIONS_LOGIN_ROLE, functions_url_from


def test_the_functions_log_in_as_their_own_role_by_default(db_url, functions_db_url):
    assert functions_db_url == functions_url_from(db_url)
    with connect(functions_db_url, autocommit=True) as conn:
        row = conn.execute("select session_user as login, current_user as acting").fetchone()
    assert row == {"login": "switchyard_functions", "acting": "switchyard_functions"}


def test_the_role_logs_in_inherits_nothing_and_bypasses_nothing(db):
    row = db.execute(
        """select rolcanlogin, rolinherit, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,
                  rolreplication,
                  array(select g.rolname from pg_auth_members m
                          join pg_roles g on g.oid = m.roleid
                         where m.member = r.oid order by g.rolname) as member_of
             from pg_roles r where rolname = %s""",
        (FUNCTIONS_LOGIN_ROLE,),
    ).fetchone()
    assert row == {
        "rolcanlogin": True,
        "rolinherit": False,
        "rolsuper": False,
        "rolbypassrls": False,
        "rolcreaterole": False,
        "rolcreatedb": False,
        "rolreplication": False,
        "member_of": ["anon", "authenticated"],
    }


@pytest.mark.parametrize("role", ["service_role", "postgres", "authenticator"])
def test_the_functions_login_cannot_become_a_powerful_role(functions_db_url, role):
    with connect(functions_db_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("select set_config('role', %s, true)", (role,))


@pytest.mark.parametrize("role", ["authenticated", "anon"])
def test_the_functions_login_becomes_a_user_and_still_reads_no_secret(db, functions_db_url, role):
    db.execute("insert into auth.users (id, email) values (gen_random_uuid(), 'a@example.com')")
    db.execute(
        """insert into public.accounts (user_id, kind, venue, name, login, server, environment)
           select id, 'mt5', 'mt5', 'main', '1001', 'Demo-1', 'demo' from auth.users"""
    )
    db.execute(
        "insert into private.account_secrets (account_id, ciphertext, key_id) "
        "select id, 'ct', 'k' from public.accounts"
    )
    with connect(functions_db_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select ciphertext from private.account_secrets")
        with conn.transaction(force_rollback=True):
            conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
            assert conn.execute("select current_user as r").fetchone() == {"r": role}
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select ciphertext from private.account_secrets")


def test_row_level_security_binds_the_functions_login(db, functions_db_url):
    """No BYPASSRLS: a table with RLS and no policy shows it no row, though it may select."""
    db.execute("create table public.probe (id int)")
    db.execute("insert into public.probe values (1)")
    db.execute("alter table public.probe enable row level security")
    db.execute(
        sql.SQL("grant select on public.probe to {}").format(sql.Identifier(FUNCTIONS_LOGIN_ROLE))
    )
    with connect(functions_db_url, autocommit=True) as conn:
        assert conn.execute("select count(*) as n from public.probe").fetchone() == {"n": 0}
    assert db.execute("select count(*) as n from public.probe").fetchone() == {"n": 1}


def _role_section_for(role: str) -> str:
    """The migration's statements that make the login role, for another role name."""
    migration = next(migrations_dir().glob("*_least_privilege.sql")).read_text()
    section = migration.split("-- sequences: nothing for the API roles")[0]
    assert "create role switchyard_functions login noinherit" in section
    return section.replace(FUNCTIONS_LOGIN_ROLE, role)


@pytest.fixture
def probe_role(db):
    """A throwaway role name (roles are cluster-wide: never touch the shared one)."""
    name = f"switchyard_probe_{uuid.uuid4().hex[:10]}"
    yield name
    db.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))


def test_the_migration_creates_the_role_once_and_runs_again_unchanged(db, probe_role):
    for _ in range(2):
        db.execute(_role_section_for(probe_role).encode())
    row = db.execute(
        "select rolcanlogin, rolinherit, rolbypassrls, rolpassword is null as no_password "
        "from pg_authid where rolname = %s",
        (probe_role,),
    ).fetchone()
    assert row == {
        "rolcanlogin": True,
        "rolinherit": False,
        "rolbypassrls": False,
        "no_password": True,
    }


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        ("create role {} login noinherit bypassrls", "bypassrls"),
        ("create role {} login inherit", "inherits the roles it is granted"),
        ("create role {} login noinherit in role service_role", "member of service_role"),
    ],
)
def test_the_migration_refuses_an_existing_role_that_can_do_too_much(db, probe_role, make, reason):
    db.execute(sql.SQL(make).format(sql.Identifier(probe_role)))
    with pytest.raises(
        psycopg.errors.InsufficientPrivilege, match=f"can do too much \\({reason}\\)"
    ):
        db.execute(_role_section_for(probe_role).encode())
