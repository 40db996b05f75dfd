"""Refresh-token rotation, GoTrue's reuse rules, and sign-out scopes, through the client."""

from __future__ import annotations

import pytest
from supabase_auth.errors import AuthApiError

from tests.sim_auth.helpers import PASSWORD, client, jwt_part


def _signed_in(auth, email="alice@example.com"):
    supabase = client(auth)
    supabase.auth.sign_up({"email": email, "password": PASSWORD})
    return supabase


def test_a_refresh_rotates_the_refresh_token_within_the_same_session(auth, db):
    supabase = _signed_in(auth)
    first = supabase.auth.get_session()
    refreshed = supabase.auth.refresh_session().session
    assert refreshed.refresh_token != first.refresh_token
    assert len(refreshed.refresh_token) == 12
    assert (
        jwt_part(refreshed.access_token, 1)["session_id"]
        == jwt_part(first.access_token, 1)["session_id"]
    )
    rows = db.execute(
        "select token, parent, revoked from auth.refresh_tokens order by id"
    ).fetchall()
    assert [(r["token"], r["parent"], r["revoked"]) for r in rows] == [
        (first.refresh_token, None, True),
        (refreshed.refresh_token, first.refresh_token, False),
    ]
    refreshed_at = db.execute("select refreshed_at from auth.sessions").fetchone()["refreshed_at"]
    assert refreshed_at is not None


def test_the_parent_of_the_active_token_gets_the_active_token_again(auth):
    """GoTrue's allowance for a client that never stored the last refresh's answer."""
    supabase = _signed_in(auth)
    first = supabase.auth.get_session().refresh_token
    second = supabase.auth.refresh_session().session.refresh_token
    again = client(auth).auth.refresh_session(first).session.refresh_token
    assert again == second


def test_reusing_an_older_refresh_token_after_the_reuse_interval_revokes_the_session(
    start_auth, db
):
    auth = start_auth(refresh_token_reuse_interval_s=0)
    supabase = _signed_in(auth)
    first = supabase.auth.get_session().refresh_token
    supabase.auth.refresh_session()
    latest = supabase.auth.refresh_session().session.refresh_token
    with pytest.raises(AuthApiError) as refused:
        client(auth).auth.refresh_session(first)
    assert (refused.value.status, refused.value.code) == (400, "refresh_token_already_used")
    assert refused.value.message == "Invalid Refresh Token: Already Used"
    # The whole token family is revoked: the legitimate holder must sign in again.
    assert db.execute(
        "select bool_and(revoked) as all_revoked from auth.refresh_tokens"
    ).fetchone()["all_revoked"]
    with pytest.raises(AuthApiError) as also_refused:
        client(auth).auth.refresh_session(latest)
    assert also_refused.value.code == "refresh_token_already_used"


def test_within_the_reuse_interval_an_older_token_still_refreshes(start_auth):
    auth = start_auth(refresh_token_reuse_interval_s=3600)
    supabase = _signed_in(auth)
    first = supabase.auth.get_session().refresh_token
    supabase.auth.refresh_session()
    supabase.auth.refresh_session()
    reused = client(auth).auth.refresh_session(first).session
    assert reused.refresh_token not in (None, first)


def test_an_unknown_refresh_token_is_refresh_token_not_found(auth):
    with pytest.raises(AuthApiError) as refused:
        client(auth).auth.refresh_session("abcdefghijkl")
    assert (refused.value.status, refused.value.code) == (400, "refresh_token_not_found")
    assert refused.value.message == "Invalid Refresh Token: Refresh Token Not Found"


def test_after_sign_out_the_refresh_token_and_the_session_are_gone(auth, db):
    supabase = _signed_in(auth)
    session = supabase.auth.get_session()
    supabase.auth.sign_out()
    assert supabase.auth.get_session() is None
    assert db.execute("select count(*) as n from auth.sessions").fetchone()["n"] == 0
    with pytest.raises(AuthApiError) as refused:
        client(auth).auth.refresh_session(session.refresh_token)
    assert refused.value.code == "refresh_token_not_found"
    # The access token still verifies, but GoTrue refuses it: its session no longer exists.
    with pytest.raises(AuthApiError) as stale:
        client(auth).auth.get_user(session.access_token)
    assert (stale.value.status, stale.value.code) == (403, "session_not_found")


@pytest.mark.parametrize(
    ("scope", "this_survives", "other_survives"),
    [("local", False, True), ("others", True, False), ("global", False, False)],
)
def test_sign_out_scopes_end_this_other_or_every_session(
    auth, db, scope, this_survives, other_survives
):
    this = _signed_in(auth)
    other = client(auth)
    other.auth.sign_in_with_password({"email": "alice@example.com", "password": PASSWORD})
    this_session = jwt_part(this.auth.get_session().access_token, 1)["session_id"]
    other_session = jwt_part(other.auth.get_session().access_token, 1)["session_id"]
    this.auth.sign_out({"scope": scope})
    alive = {str(r["id"]) for r in db.execute("select id from auth.sessions").fetchall()}
    assert (this_session in alive, other_session in alive) == (this_survives, other_survives)


def test_an_unsupported_logout_scope_is_validation_failed(auth):
    supabase = _signed_in(auth)
    token = supabase.auth.get_session().access_token
    with pytest.raises(AuthApiError) as refused:
        supabase.auth.admin.sign_out(token, "everywhere")  # type: ignore[arg-type]
    assert (refused.value.status, refused.value.code) == (400, "validation_failed")
    assert refused.value.message == 'Unsupported logout scope "everywhere"'
