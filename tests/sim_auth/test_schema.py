"""sql/compat/10_supabase_auth.sql: GoTrue's tables, as its migrations leave them."""

from __future__ import annotations

import pytest

#: Column → type of the tables the stand-in writes, from supabase/auth's migrations.
GOTRUE_COLUMNS = {
    "sessions": {
        "id": "uuid", "user_id": "uuid", "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone", "factor_id": "uuid", "aal": "USER-DEFINED",
        "not_after": "timestamp with time zone", "refreshed_at": "timestamp without time zone",
        "user_agent": "text", "ip": "inet", "tag": "text", "oauth_client_id": "uuid",
        "refresh_token_hmac_key": "text", "refresh_token_counter": "bigint", "scopes": "text",
    },
    "refresh_tokens": {
        "instance_id": "uuid", "id": "bigint", "token": "character varying",
        "user_id": "character varying", "revoked": "boolean",
        "created_at": "timestamp with time zone", "updated_at": "timestamp with time zone",
        "parent": "character varying", "session_id": "uuid",
    },
    "mfa_factors": {
        "id": "uuid", "user_id": "uuid", "friendly_name": "text", "factor_type": "USER-DEFINED",
        "status": "USER-DEFINED", "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone", "secret": "text", "phone": "text",
        "last_challenged_at": "timestamp with time zone", "web_authn_credential": "jsonb",
        "web_authn_aaguid": "uuid", "last_webauthn_challenge_data": "jsonb",
    },
    "mfa_challenges": {
        "id": "uuid", "factor_id": "uuid", "created_at": "timestamp with time zone",
        "verified_at": "timestamp with time zone", "ip_address": "inet", "otp_code": "text",
        "web_authn_session_data": "jsonb",
    },
    "mfa_amr_claims": {
        "session_id": "uuid", "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone", "authentication_method": "text", "id": "uuid",
    },
    "identities": {
        "provider_id": "text", "user_id": "uuid", "identity_data": "jsonb", "provider": "text",
        "last_sign_in_at": "timestamp with time zone", "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone", "email": "text", "id": "uuid",
    },
}  # fmt: skip

USERS_COLUMNS = [
    "instance_id",
    "id",
    "aud",
    "role",
    "email",
    "encrypted_password",
    "email_confirmed_at",
    "invited_at",
    "confirmation_token",
    "confirmation_sent_at",
    "recovery_token",
    "recovery_sent_at",
    "email_change_token_new",
    "email_change",
    "email_change_sent_at",
    "last_sign_in_at",
    "raw_app_meta_data",
    "raw_user_meta_data",
    "is_super_admin",
    "created_at",
    "updated_at",
    "phone",
    "phone_confirmed_at",
    "phone_change",
    "phone_change_token",
    "phone_change_sent_at",
    "confirmed_at",
    "email_change_token_current",
    "email_change_confirm_status",
    "banned_until",
    "reauthentication_token",
    "reauthentication_sent_at",
    "is_sso_user",
    "deleted_at",
    "is_anonymous",
]


def _columns(db, table):
    rows = db.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'auth' and table_name = %s",
        (table,),
    ).fetchall()
    return {r["column_name"]: r["data_type"] for r in rows}


@pytest.mark.parametrize("table", sorted(GOTRUE_COLUMNS))
def test_the_auth_tables_have_gotrues_columns_and_types(db, table):
    assert _columns(db, table) == GOTRUE_COLUMNS[table]


def test_auth_users_has_every_column_gotrue_has(db):
    assert sorted(_columns(db, "users")) == sorted(USERS_COLUMNS)


def test_the_enums_are_gotrues(db):
    rows = db.execute(
        "select t.typname, array_agg(e.enumlabel order by e.enumsortorder) as labels "
        "from pg_type t join pg_enum e on e.enumtypid = t.oid "
        "join pg_namespace n on n.oid = t.typnamespace where n.nspname = 'auth' group by 1"
    ).fetchall()
    assert {r["typname"]: r["labels"] for r in rows} == {
        "aal_level": ["aal1", "aal2", "aal3"],
        "factor_status": ["unverified", "verified"],
        "factor_type": ["totp", "webauthn", "phone"],
    }


@pytest.mark.parametrize("table", ["users", *sorted(GOTRUE_COLUMNS)])
def test_the_api_roles_have_no_privilege_and_rls_is_on(db, table):
    for role in ("anon", "authenticated"):
        for privilege in ("select", "insert", "update", "delete"):
            allowed = db.execute(
                "select has_table_privilege(%s, %s, %s) as allowed",
                (role, f"auth.{table}", privilege),
            ).fetchone()["allowed"]
            assert not allowed, (role, privilege, table)
    assert db.execute(
        "select relrowsecurity from pg_class where oid = %s::regclass", (f"auth.{table}",)
    ).fetchone()["relrowsecurity"]


def test_the_aal_claim_and_verified_factors_are_readable_as_the_later_policy_will(db):
    """What an MFA rule reads: auth.jwt()->>'aal' and auth.mfa_factors by user and status."""
    user = db.execute(
        "insert into auth.users (id, email) values (gen_random_uuid(), 'a@example.com') returning id"
    ).fetchone()["id"]
    db.execute(
        "insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at) "
        "values (gen_random_uuid(), %s, 'totp', 'verified', now(), now())",
        (user,),
    )
    with db.transaction(force_rollback=True):
        db.execute("select set_config('request.jwt.claims', %s, true)", ('{"aal": "aal2"}',))
        aal = db.execute("select auth.jwt()->>'aal' as aal").fetchone()["aal"]
    verified = db.execute(
        "select count(*) as n from auth.mfa_factors where user_id = %s and status = 'verified'",
        (user,),
    ).fetchone()["n"]
    assert (aal, verified) == ("aal2", 1)
