"""TOTP MFA as Supabase Auth runs it: enrol, challenge, verify → aal2, through the client."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from supabase_auth.errors import AuthApiError

from tests.sim_auth.helpers import PASSWORD, client, jwt_part, wrong_code

EMAIL = "alice@example.com"


def _signed_in(auth):
    supabase = client(auth)
    supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD})
    return supabase


def _enrolled(auth, name="phone app"):
    supabase = _signed_in(auth)
    enrolled = supabase.auth.mfa.enroll({"factor_type": "totp", "friendly_name": name})
    return supabase, enrolled


def _verify(supabase, factor_id, code):
    challenge = supabase.auth.mfa.challenge({"factor_id": factor_id})
    return supabase.auth.mfa.verify(
        {"factor_id": factor_id, "challenge_id": challenge.id, "code": code}
    )


def test_enrolment_answers_the_secret_its_uri_and_a_qr_code(auth, db):
    supabase, enrolled = _enrolled(auth)
    assert enrolled.type == "totp"
    assert enrolled.friendly_name == "phone app"
    secret = enrolled.totp.secret
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20
    assert enrolled.totp.uri == (
        f"otpauth://totp/127.0.0.1:3000:{EMAIL}?algorithm=SHA1&digits=6"
        f"&issuer=127.0.0.1:3000&period=30&secret={secret}"
    )
    # An authenticator app's view of it (the query's issuer wins over the label's).
    query = parse_qs(urlsplit(enrolled.totp.uri).query)
    assert query["issuer"] == ["127.0.0.1:3000"]
    assert pyotp.TOTP(query["secret"][0]).now() == pyotp.TOTP(secret).now()
    assert enrolled.totp.qr_code.startswith("data:image/svg+xml;utf-8,<?xml")
    assert "<svg" in enrolled.totp.qr_code
    row = db.execute(
        "select factor_type::text, status::text, secret, friendly_name from auth.mfa_factors"
    ).fetchone()
    assert row == {
        "factor_type": "totp",
        "status": "unverified",
        "secret": secret,
        "friendly_name": "phone app",
    }
    factors = supabase.auth.mfa.list_factors()
    assert [(f.id, f.status) for f in factors.all] == [(enrolled.id, "unverified")]
    assert factors.totp == []


def test_an_issuer_given_at_enrolment_names_the_uri(auth):
    supabase = _signed_in(auth)
    enrolled = supabase.auth.mfa.enroll({"factor_type": "totp", "issuer": "Switchyard Dev"})
    query = parse_qs(urlsplit(enrolled.totp.uri).query)
    assert query["issuer"] == ["Switchyard Dev"]
    assert enrolled.totp.uri.startswith(f"otpauth://totp/Switchyard%20Dev:{EMAIL}?")
    parsed = pyotp.parse_uri(enrolled.totp.uri)
    assert (parsed.secret, parsed.issuer, parsed.name) == (
        enrolled.totp.secret,
        "Switchyard Dev",
        EMAIL,
    )


def test_a_challenge_lasts_five_minutes_from_its_creation(auth, db):
    supabase, enrolled = _enrolled(auth)
    challenge = supabase.auth.mfa.challenge({"factor_id": enrolled.id})
    assert challenge.factor_type == "totp"
    row = db.execute(
        "select created_at, host(ip_address) as ip from auth.mfa_challenges where id = %s",
        (challenge.id,),
    ).fetchone()
    assert challenge.expires_at == int((row["created_at"] + dt.timedelta(seconds=300)).timestamp())
    assert row["ip"] == "127.0.0.1"


def test_verifying_the_code_gives_an_aal2_session_with_the_totp_method(auth, db):
    supabase, enrolled = _enrolled(auth)
    before = supabase.auth.get_session()
    verified = _verify(supabase, enrolled.id, pyotp.TOTP(enrolled.totp.secret).now())
    claims = jwt_part(verified.access_token, 1)
    assert claims["aal"] == "aal2"
    assert [entry["method"] for entry in claims["amr"]] == ["totp", "password"]
    assert claims["session_id"] == jwt_part(before.access_token, 1)["session_id"]
    assert verified.refresh_token != before.refresh_token
    level = supabase.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal2", "aal2")
    assert [f.status for f in supabase.auth.mfa.list_factors().totp] == ["verified"]
    session_row = db.execute("select aal::text, factor_id::text from auth.sessions").fetchone()
    assert session_row == {"aal": "aal2", "factor_id": enrolled.id}
    methods = db.execute(
        "select authentication_method from auth.mfa_amr_claims order by authentication_method"
    ).fetchall()
    assert [m["authentication_method"] for m in methods] == ["password", "totp"]


def test_signing_in_again_gives_aal1_with_aal2_as_the_next_level(auth):
    supabase, enrolled = _enrolled(auth)
    _verify(supabase, enrolled.id, pyotp.TOTP(enrolled.totp.secret).now())
    again = client(auth)
    session = again.auth.sign_in_with_password({"email": EMAIL, "password": PASSWORD}).session
    assert jwt_part(session.access_token, 1)["aal"] == "aal1"
    level = again.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal1", "aal2")
    assert [m.method for m in level.current_authentication_methods] == ["password"]
    stepped_up = _verify(again, enrolled.id, pyotp.TOTP(enrolled.totp.secret).now())
    assert jwt_part(stepped_up.access_token, 1)["aal"] == "aal2"


def test_a_wrong_code_is_mfa_verification_failed_and_changes_nothing(auth, db):
    supabase, enrolled = _enrolled(auth)
    with pytest.raises(AuthApiError) as refused:
        _verify(supabase, enrolled.id, wrong_code(enrolled.totp.secret))
    assert (refused.value.status, refused.value.code) == (422, "mfa_verification_failed")
    assert refused.value.message == "Invalid TOTP code entered"
    assert db.execute("select status::text from auth.mfa_factors").fetchone()["status"] == (
        "unverified"
    )
    assert db.execute("select aal::text from auth.sessions").fetchone()["aal"] == "aal1"


def test_a_challenge_answers_once(auth):
    supabase, enrolled = _enrolled(auth)
    challenge = supabase.auth.mfa.challenge({"factor_id": enrolled.id})
    code = pyotp.TOTP(enrolled.totp.secret).now()
    params = {"factor_id": enrolled.id, "challenge_id": challenge.id, "code": code}
    supabase.auth.mfa.verify(params)
    with pytest.raises(AuthApiError) as refused:
        supabase.auth.mfa.verify(params)
    assert (refused.value.status, refused.value.code) == (422, "mfa_ip_address_mismatch")


def test_verifying_ends_the_users_other_aal1_sessions(auth):
    supabase, enrolled = _enrolled(auth)
    other = client(auth)
    other.auth.sign_in_with_password({"email": EMAIL, "password": PASSWORD})
    other_refresh = other.auth.get_session().refresh_token
    _verify(supabase, enrolled.id, pyotp.TOTP(enrolled.totp.secret).now())
    with pytest.raises(AuthApiError) as refused:
        client(auth).auth.refresh_session(other_refresh)
    assert refused.value.code == "refresh_token_not_found"


def test_another_users_factor_is_not_found(auth):
    _, enrolled = _enrolled(auth)
    mallory = client(auth)
    mallory.auth.sign_up({"email": "mallory@example.com", "password": PASSWORD})
    with pytest.raises(AuthApiError) as refused:
        mallory.auth.mfa.challenge({"factor_id": enrolled.id})
    assert (refused.value.status, refused.value.code) == (404, "mfa_factor_not_found")


def test_unenrolling_a_verified_factor_needs_aal2(auth, db):
    supabase, enrolled = _enrolled(auth)
    _verify(supabase, enrolled.id, pyotp.TOTP(enrolled.totp.secret).now())
    aal1 = client(auth)
    aal1.auth.sign_in_with_password({"email": EMAIL, "password": PASSWORD})
    with pytest.raises(AuthApiError) as refused:
        aal1.auth.mfa.unenroll({"factor_id": enrolled.id})
    assert (refused.value.status, refused.value.code) == (422, "insufficient_aal")
    assert supabase.auth.mfa.unenroll({"factor_id": enrolled.id}).id == enrolled.id
    assert db.execute("select count(*) as n from auth.mfa_factors").fetchone()["n"] == 0
    assert db.execute("select aal::text from auth.sessions order by created_at").fetchall() == [
        {"aal": "aal1"},
        {"aal": "aal1"},
    ]
    assert supabase.auth.refresh_session().session is not None
    refreshed = jwt_part(supabase.auth.get_session().access_token, 1)
    assert (refreshed["aal"], [m["method"] for m in refreshed["amr"]]) == ("aal1", ["password"])


def test_a_second_factor_with_the_same_name_is_a_name_conflict(auth):
    supabase, _ = _enrolled(auth, name="phone app")
    with pytest.raises(AuthApiError) as refused:
        supabase.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone app"})
    assert (refused.value.status, refused.value.code) == (422, "mfa_factor_name_conflict")
