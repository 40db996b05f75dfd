"""Sign-up and sign-in with email and password, through the real `supabase` client."""

from __future__ import annotations

import bcrypt
import pytest
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.sim_auth.helpers import PASSWORD, client, jwt_part


def test_sign_up_is_confirmed_at_once_and_returns_a_session(auth, db):
    response = client(auth).auth.sign_up(
        {"email": "Alice@Example.com", "password": PASSWORD, "options": {"data": {"name": "A"}}}
    )
    assert response.session is not None
    user = response.user
    assert user.email == "alice@example.com"
    assert user.email_confirmed_at is not None
    assert user.confirmed_at is not None
    assert user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert user.user_metadata == {"name": "A", "email_verified": True}
    [identity] = user.identities
    assert (identity.provider, identity.id, identity.user_id) == ("email", user.id, user.id)
    assert identity.identity_data == {
        "sub": user.id,
        "email": "alice@example.com",
        "email_verified": False,
        "phone_verified": False,
        "name": "A",
    }
    assert jwt_part(response.session.access_token, 1)["sub"] == user.id
    row = db.execute(
        "select role, aud, instance_id::text, last_sign_in_at from auth.users where id = %s",
        (user.id,),
    ).fetchone()
    assert row["role"] == row["aud"] == "authenticated"
    assert row["instance_id"] == "00000000-0000-0000-0000-000000000000"
    assert row["last_sign_in_at"] is not None


def test_the_password_is_stored_as_a_bcrypt_hash_in_encrypted_password(auth, db):
    user = client(auth).auth.sign_up({"email": "bob@example.com", "password": PASSWORD}).user
    stored = db.execute(
        "select encrypted_password from auth.users where id = %s", (user.id,)
    ).fetchone()["encrypted_password"]
    assert stored.startswith("$2a$10$")
    assert PASSWORD not in stored
    assert bcrypt.checkpw(PASSWORD.encode(), stored.encode())
    assert not bcrypt.checkpw(b"another password", stored.encode())


def test_signing_up_twice_is_user_already_exists(auth):
    client(auth).auth.sign_up({"email": "carol@example.com", "password": PASSWORD})
    with pytest.raises(AuthApiError) as refused:
        client(auth).auth.sign_up({"email": "CAROL@example.com", "password": "other pass"})
    assert (refused.value.status, refused.value.code) == (422, "user_already_exists")
    assert refused.value.message == "User already registered"


def test_a_short_password_is_a_weak_password_with_its_reason(auth, db):
    with pytest.raises(AuthWeakPasswordError) as refused:
        client(auth).auth.sign_up({"email": "dave@example.com", "password": "12345"})
    assert (refused.value.status, refused.value.code) == (422, "weak_password")
    assert refused.value.reasons == ["length"]
    assert refused.value.message == "Password should be at least 6 characters."
    assert db.execute("select count(*) as n from auth.users").fetchone()["n"] == 0


def test_a_malformed_email_is_refused(auth):
    with pytest.raises(AuthApiError) as refused:
        client(auth).auth.sign_up({"email": "not-an-email", "password": PASSWORD})
    assert (refused.value.status, refused.value.code) == (400, "validation_failed")
    assert "Unable to validate email address" in refused.value.message


def test_sign_in_with_the_right_password_opens_a_new_aal1_session(auth, db):
    signed_up = client(auth).auth.sign_up({"email": "erin@example.com", "password": PASSWORD})
    response = client(auth).auth.sign_in_with_password(
        {"email": "Erin@example.com", "password": PASSWORD}
    )
    claims = jwt_part(response.session.access_token, 1)
    assert response.user.id == signed_up.user.id
    assert claims["aal"] == "aal1"
    assert [entry["method"] for entry in claims["amr"]] == ["password"]
    assert claims["session_id"] != jwt_part(signed_up.session.access_token, 1)["session_id"]
    sessions = db.execute(
        "select aal::text from auth.sessions where user_id = %s", (signed_up.user.id,)
    ).fetchall()
    assert [s["aal"] for s in sessions] == ["aal1", "aal1"]


@pytest.mark.parametrize("email", ["frank@example.com", "nobody@example.com"])
def test_a_wrong_password_or_an_unknown_email_is_invalid_credentials(auth, email):
    client(auth).auth.sign_up({"email": "frank@example.com", "password": PASSWORD})
    with pytest.raises(AuthApiError) as refused:
        client(auth).auth.sign_in_with_password({"email": email, "password": "wrong password"})
    assert (refused.value.status, refused.value.code) == (400, "invalid_credentials")
    assert refused.value.message == "Invalid login credentials"


def test_get_user_answers_the_signed_in_user(auth):
    supabase = client(auth)
    signed_in = supabase.auth.sign_up({"email": "grace@example.com", "password": PASSWORD})
    fetched = supabase.auth.get_user()
    assert fetched is not None
    assert fetched.user.id == signed_in.user.id
    assert fetched.user.email == "grace@example.com"
    assert fetched.user.factors is None
    assert [identity.provider for identity in fetched.user.identities] == ["email"]


def test_a_user_of_switchyard_token_cannot_sign_in_without_a_password(auth, db):
    db.execute(
        "insert into auth.users (id, aud, role, email) "
        "values (gen_random_uuid(), 'authenticated', 'authenticated', 'heidi@example.com')"
    )
    with pytest.raises(AuthApiError) as refused:
        client(auth).auth.sign_in_with_password({"email": "heidi@example.com", "password": "x"})
    assert refused.value.code == "invalid_credentials"
