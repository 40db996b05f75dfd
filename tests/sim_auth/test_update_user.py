"""PUT /user for the password and user metadata (update_user in the clients)."""

from __future__ import annotations

import pyotp
import pytest
from supabase_auth.errors import AuthApiError

from tests.sim_auth.helpers import PASSWORD, client

EMAIL = "alice@example.com"
NEW_PASSWORD = "a brand new passphrase"


def test_a_new_password_works_and_ends_the_other_sessions(auth):
    supabase = client(auth)
    supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD})
    other = client(auth)
    other.auth.sign_in_with_password({"email": EMAIL, "password": PASSWORD})
    other_refresh = other.auth.get_session().refresh_token
    supabase.auth.update_user({"password": NEW_PASSWORD})
    with pytest.raises(AuthApiError) as old:
        client(auth).auth.sign_in_with_password({"email": EMAIL, "password": PASSWORD})
    assert old.value.code == "invalid_credentials"
    assert client(auth).auth.sign_in_with_password({"email": EMAIL, "password": NEW_PASSWORD})
    with pytest.raises(AuthApiError) as ended:
        client(auth).auth.refresh_session(other_refresh)
    assert ended.value.code == "refresh_token_not_found"
    assert supabase.auth.refresh_session().session is not None  # this session stays


def test_the_same_password_again_is_same_password(auth):
    supabase = client(auth)
    supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD})
    with pytest.raises(AuthApiError) as refused:
        supabase.auth.update_user({"password": PASSWORD})
    assert (refused.value.status, refused.value.code) == (422, "same_password")


def test_user_metadata_is_merged_and_a_null_removes_a_key(auth):
    supabase = client(auth)
    supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD, "options": {"data": {"a": 1}}})
    updated = supabase.auth.update_user({"data": {"b": 2, "a": None}})
    assert updated.user.user_metadata == {"b": 2, "email_verified": True}


def test_with_a_verified_factor_a_password_change_needs_aal2(auth):
    supabase = client(auth)
    supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD})
    factor = supabase.auth.mfa.enroll({"factor_type": "totp"})
    challenge = supabase.auth.mfa.challenge({"factor_id": factor.id})
    code = pyotp.TOTP(factor.totp.secret).now()
    supabase.auth.mfa.verify({"factor_id": factor.id, "challenge_id": challenge.id, "code": code})
    aal1 = client(auth)
    aal1.auth.sign_in_with_password({"email": EMAIL, "password": PASSWORD})
    with pytest.raises(AuthApiError) as refused:
        aal1.auth.update_user({"password": NEW_PASSWORD})
    assert (refused.value.status, refused.value.code) == (401, "insufficient_aal")
    assert supabase.auth.update_user({"password": NEW_PASSWORD}).user.email == EMAIL
