"""Local identities, the named-query loader and the settings."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import jwt
import pytest

from switchyard.errors import ConfigError
from switchyard.queries import load, parse, queries
from switchyard.settings import Settings, functions_url_from
from switchyard.tokens import ensure_user, mint_token

SUPABASE_CLAIMS = {"iss", "aud", "role", "sub", "email", "exp", "iat", "aal", "session_id"}


def test_a_local_token_has_the_claims_supabase_auth_issues(db, settings):
    user_id = ensure_user(db, "Claims@Example.com")
    token = mint_token(settings, user_id, "claims@example.com", ttl_s=120, now=1_700_000_000)
    claims = jwt.decode(
        token,
        settings.jwt_secret().get_secret_value(),
        algorithms=["HS256"],
        audience="authenticated",
        options={"verify_exp": False},
    )
    assert set(claims) >= SUPABASE_CLAIMS
    assert claims["sub"] == str(user_id)
    assert (claims["aud"], claims["role"], claims["aal"]) == (
        "authenticated",
        "authenticated",
        "aal1",
    )
    assert claims["exp"] - claims["iat"] == 120
    assert claims["iss"].endswith("/auth/v1")
    uuid.UUID(claims["session_id"])


def test_ensure_user_creates_once_per_email(db):
    first = ensure_user(db, "same@example.com")
    assert ensure_user(db, "SAME@example.com") == first
    assert db.execute("select count(*) as n from auth.users").fetchone()["n"] == 1


def test_the_token_command_prints_a_token_for_a_new_local_user(db_url, tmp_path):
    env = os.environ | {"DATABASE_URL": db_url, "SWITCHYARD_DATA_DIR": str(tmp_path)}
    env.pop("SUPABASE_JWT_SECRET", None)
    done = subprocess.run(
        [sys.executable, "-m", "switchyard", "token", "dev@example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    secret = (tmp_path / "jwt_secret").read_text().strip()
    assert oct((tmp_path / "jwt_secret").stat().st_mode & 0o777) == "0o600"
    claims = jwt.decode(done.stdout.strip(), secret, algorithms=["HS256"], audience="authenticated")
    assert claims["email"] == "dev@example.com"
    assert claims["sub"] in done.stderr


def test_production_refuses_to_invent_a_jwt_secret(tmp_path):
    settings = Settings.model_validate(
        {"SWITCHYARD_ENV": "production", "SWITCHYARD_DATA_DIR": tmp_path}
    )
    with pytest.raises(ConfigError, match="SUPABASE_JWT_SECRET is not set"):
        settings.jwt_secret()
    assert not list(tmp_path.iterdir())


def test_secrets_in_settings_are_masked():
    settings = Settings.model_validate(
        {"SWITCHYARD_ENCRYPTION_KEYS": "very-secret-key", "SUPABASE_JWT_SECRET": "jwt-secret-value"}
    )
    assert "very-secret-key" not in repr(settings)
    assert "jwt-secret-value" not in repr(settings)


def test_the_functions_url_logs_in_as_their_own_role_without_the_password():
    url = functions_url_from("postgresql://postgres:pw@db.example.com:6543/app?sslmode=require")
    assert "user=switchyard_functions" in url
    assert "pw" not in url
    assert "sslmode=require" in url


def test_named_queries_are_split_by_header_and_refuse_duplicates(tmp_path):
    assert parse("-- a comment\n-- name: one\nselect 1\n\n-- name: two\nselect 2;\n", "x.sql") == {
        "one": "select 1",
        "two": "select 2;",
    }
    with pytest.raises(ValueError, match="defined twice"):
        parse("-- name: a\nselect 1\n-- name: a\nselect 2\n", "x.sql")
    with pytest.raises(ValueError, match="before the first"):
        parse("select 0;\n-- name: a\nselect 1\n", "x.sql")
    with pytest.raises(ValueError, match="is empty"):
        parse("-- name: a\n\n", "x.sql")
    (tmp_path / "a.sql").write_text("-- name: same\nselect 1\n")
    (tmp_path / "b.sql").write_text("-- name: same\nselect 2\n")
    with pytest.raises(ValueError, match="already defined elsewhere"):
        load(tmp_path)


def test_an_unknown_query_name_says_so():
    with pytest.raises(KeyError, match="no query named 'nope'"):
        queries["nope"]
    assert "become_role" in queries
