"""The functions behind the local Supabase Auth stand-in, as a frontend meets them.

The real `supabase` client signs up, in, refreshes and out against the stand-in, whose
ES256 tokens the functions verify through its JWKS (the production path). A second factor
(TOTP, enrolled and verified through the client) then guards what hands over or removes
broker access: with `aal1` it is refused (403), through the functions and directly in SQL
as `authenticated` (what PostgREST runs); with `aal2` it goes through. The JWT attack set
is refused on this JWKS path too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from types import SimpleNamespace
from typing import Any

import jwt
import psycopg
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from supabase_auth.errors import AuthApiError

from switchyard.db import as_role, connect
from switchyard.sim.auth import keys
from tests.functions import stand_in as fixtures
from tests.functions.helpers import MT5_NEW_PASSWORD, Verdicts, connected_account, mt5_body
from tests.sim_auth.conftest import ThreadedAuth
from tests.sim_auth.helpers import PASSWORD, client, jwt_part

pytestmark = pytest.mark.anyio

stand_in = fixtures.stand_in
api = fixtures.api

EMAIL = "mfa-user@example.com"


def bearer_of(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_the_supabase_client_signs_up_in_refreshes_and_out_and_its_token_works(
    api, stand_in, db
):
    supabase = client(stand_in)
    signed_up = supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD})
    assert signed_up.session is not None
    user_id = signed_up.user.id
    accounts = await api.get("/v1/accounts", headers=bearer_of(signed_up.session.access_token))
    assert accounts.status_code == 200, accounts.text
    assert accounts.json() == []

    script = client(stand_in)
    signed_in = script.auth.sign_in_with_password({"email": EMAIL, "password": PASSWORD})
    assert jwt_part(signed_in.session.access_token, 0)["alg"] == "ES256"
    made = await api.post(
        "/v1/api-tokens",
        json={"name": "from a session", "scopes": ["read"]},
        headers=bearer_of(signed_in.session.access_token),
    )
    assert made.status_code == 201, made.text
    owner = db.execute("select user_id from public.api_tokens").fetchone()["user_id"]
    assert str(owner) == user_id  # the functions acted as the signed-in user

    refreshed = script.auth.refresh_session()
    assert refreshed.session.refresh_token != signed_in.session.refresh_token
    again = await api.get("/v1/accounts", headers=bearer_of(refreshed.session.access_token))
    assert again.status_code == 200

    script.auth.sign_out()  # the clients' default scope: every session of the user
    with pytest.raises(AuthApiError):
        client(stand_in).auth.refresh_session(refreshed.session.refresh_token)
    with pytest.raises(AuthApiError):
        supabase.auth.refresh_session()


def _enrol_and_verify(stand_in: ThreadedAuth) -> tuple[Any, str, str]:
    """A user with a verified TOTP factor: (client, aal2 access token, its secret)."""
    supabase = client(stand_in)
    supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD})
    enrolled = supabase.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone"})
    challenge = supabase.auth.mfa.challenge({"factor_id": enrolled.id})
    verified = supabase.auth.mfa.verify(
        {
            "factor_id": enrolled.id,
            "challenge_id": challenge.id,
            "code": pyotp.TOTP(enrolled.totp.secret).now(),
        }
    )
    assert jwt_part(verified.access_token, 1)["aal"] == "aal2"
    return supabase, verified.access_token, enrolled.totp.secret


def _aal1(stand_in: ThreadedAuth) -> str:
    """A fresh password sign-in: aal1, though the user has a verified factor."""
    session = client(stand_in).auth.sign_in_with_password({"email": EMAIL, "password": PASSWORD})
    claims = jwt_part(session.session.access_token, 1)
    assert claims["aal"] == "aal1"
    return session.session.access_token


def _secret_of(db: Any, account_id: str) -> tuple[str, str]:
    row = db.execute(
        "select s.ciphertext, a.status from private.account_secrets s "
        "join public.accounts a on a.id = s.account_id where a.id = %s",
        (account_id,),
    ).fetchone()
    return row["ciphertext"], row["status"]


def _assert_second_factor_refusal(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:switchyard:problem:second-factor-required"
    assert "second factor" in problem["detail"]


async def test_with_a_second_factor_an_aal1_session_cannot_hand_over_or_remove_access(
    api, stand_in, db, db_url
):
    verdicts = Verdicts(db_url)
    supabase = client(stand_in)
    signed_up = supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD})
    before_mfa = SimpleNamespace(token=signed_up.session.access_token)
    account = await connected_account(api, verdicts, before_mfa)  # no factor yet: allowed

    _, aal2, _ = _enrol_and_verify_existing(stand_in)
    aal1 = _aal1(stand_in)
    url = f"/v1/accounts/{account['id']}"
    stored = _secret_of(db, account["id"])
    accounts_before = db.execute("select count(*) as n from public.accounts").fetchone()["n"]

    new_credentials = {"credentials": {"password": MT5_NEW_PASSWORD}, "name": "renamed"}
    _assert_second_factor_refusal(
        await api.patch(url, json=new_credentials, headers=bearer_of(aal1))
    )
    _assert_second_factor_refusal(
        await api.post(
            "/v1/accounts",
            params={"wait": 0},
            json=mt5_body(login=5550001),
            headers=bearer_of(aal1),
        )
    )
    _assert_second_factor_refusal(await api.delete(url, headers=bearer_of(aal1)))
    _assert_second_factor_refusal(
        await api.post(
            "/v1/api-tokens", json={"name": "x", "scopes": ["read"]}, headers=bearer_of(aal1)
        )
    )
    # Refused means changed nothing: the same secret, status, name and accounts.
    assert _secret_of(db, account["id"]) == stored
    assert (
        db.execute("select name from public.accounts where id = %s", (account["id"],)).fetchone()[
            "name"
        ]
        == account["name"]
    )
    assert (
        db.execute("select count(*) as n from public.accounts").fetchone()["n"] == accounts_before
    )
    assert db.execute("select count(*) as n from public.api_tokens").fetchone()["n"] == 0
    # What hands over nothing needs no second factor.
    renamed = await api.patch(url, json={"name": "Main"}, headers=bearer_of(aal1))
    assert renamed.status_code == 200

    # With the second factor presented, each goes through.
    replaced = await api.patch(
        url, params={"wait": 0}, json=new_credentials, headers=bearer_of(aal2)
    )
    assert replaced.status_code == 202, replaced.text
    assert _secret_of(db, account["id"])[0] != stored[0]
    made = await api.post(
        "/v1/api-tokens",
        json={"name": "cron", "scopes": ["read", "accounts"]},
        headers=bearer_of(aal2),
    )
    assert made.status_code == 201, made.text
    # An API token never counts as a second factor, whatever its scopes.
    token = bearer_of(made.json()["token"])
    _assert_second_factor_refusal(await api.delete(url, headers=token))
    assert (await api.patch(url, json={"name": "By token"}, headers=token)).status_code == 200
    assert (await api.delete(url, headers=bearer_of(aal2))).status_code == 204
    assert db.execute("select count(*) as n from public.accounts").fetchone()["n"] == 0


def _enrol_and_verify_existing(stand_in: ThreadedAuth) -> tuple[Any, str, str]:
    """`_enrol_and_verify` for the user signed up already."""
    supabase = client(stand_in)
    supabase.auth.sign_in_with_password({"email": EMAIL, "password": PASSWORD})
    enrolled = supabase.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone"})
    verified = supabase.auth.mfa.challenge_and_verify(
        {"factor_id": enrolled.id, "code": pyotp.TOTP(enrolled.totp.secret).now()}
    )
    assert jwt_part(verified.access_token, 1)["aal"] == "aal2"
    return supabase, verified.access_token, enrolled.totp.secret


def test_the_same_wall_stands_in_sql_for_authenticated(stand_in, db, functions_db_url):
    """What PostgREST runs for supabase-js: the role `authenticated` with the token's claims."""
    _supabase, aal2, _ = _enrol_and_verify(stand_in)
    aal1 = _aal1(stand_in)
    user_id = jwt_part(aal2, 1)["sub"]
    account_id = db.execute(
        "insert into public.accounts (user_id, kind, venue, name, login, server, environment) "
        "values (%s, 'mt5', 'mt5', 'main', '1001', 'Demo-1', 'demo') returning id",
        (user_id,),
    ).fetchone()["id"]
    db.execute(
        "insert into private.account_secrets (account_id, ciphertext, key_id) values (%s, 'old', 'k')",
        (account_id,),
    )
    statements = {
        "replace credentials": (
            "select private.replace_credentials(%s, null, null, 'new', 'k')",
            (account_id,),
        ),
        "connect": (
            "select private.connect_account(gen_random_uuid(), 'mt5', 'mt5', 'n', '2002', "
            "'Demo-1', null, null, 'demo', '{}', false, 'ct', 'k')",
            (),
        ),
        "delete": ("delete from public.accounts where id = %s", (account_id,)),
        "api token": (
            "select * from private.create_api_token('x', '{read}', 30, sha256('x'::bytea))",
            (),
        ),
    }
    claims = {level: jwt_part(token, 1) for level, token in (("aal1", aal1), ("aal2", aal2))}
    with connect(functions_db_url, autocommit=True) as conn:
        for name, (statement, params) in statements.items():
            with (
                pytest.raises(psycopg.Error) as refused,
                as_role(conn, "authenticated", claims["aal1"]) as cur,
            ):
                cur.execute(statement, params)
            assert refused.value.sqlstate == "SWMFA", name
            assert "second factor" in str(refused.value.diag.message_primary), name
        assert (
            db.execute(
                "select ciphertext from private.account_secrets where account_id = %s",
                (account_id,),
            ).fetchone()["ciphertext"]
            == "old"
        )
        for name, (statement, params) in statements.items():
            with as_role(conn, "authenticated", claims["aal2"]) as cur:
                cur.execute(statement, params)
                if name == "delete":
                    assert cur.rowcount == 1
    assert db.execute("select count(*) as n from public.api_tokens").fetchone()["n"] == 1
    # Without a factor, aal1 is all it takes (the user who never enrolled is not asked).
    other = uuid.uuid4()
    db.execute("insert into auth.users (id, email) values (%s, 'plain@example.com')", (other,))
    with (
        connect(functions_db_url, autocommit=True) as conn,
        as_role(
            conn, "authenticated", {"sub": str(other), "role": "authenticated", "aal": "aal1"}
        ) as cur,
    ):
        cur.execute("select * from private.create_api_token('y', '{read}', 30, sha256('y'::bytea))")
    assert db.execute("select count(*) as n from public.api_tokens").fetchone()["n"] == 2


async def test_the_jwt_attack_set_is_refused_on_the_jwks_path(api, stand_in, make_user):
    supabase = client(stand_in)
    session = supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD}).session
    good = session.access_token
    assert (await api.get("/v1/accounts", headers=bearer_of(good))).status_code == 200
    real = keys.load_signing_key(stand_in.data_dir)
    claims = jwt_part(good, 1)
    other_user = make_user("bob@example.com")

    def signed(key: Any = None, kid: str | None = None, **changes: Any) -> str:
        body = {k: v for k, v in ({**claims, **changes}).items() if v is not None}
        return jwt.encode(
            body, key or real.private_key, algorithm="ES256", headers={"kid": kid or real.kid}
        )

    header, _payload, signature = good.split(".")
    tampered_claims = {**claims, "sub": str(other_user.id)}
    tampered = ".".join([header, _b64(json.dumps(tampered_claims).encode()), signature])
    public_pem = real.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": real.kid}).encode())
    hs_body = _b64(json.dumps(claims).encode())
    mac = hmac.new(public_pem, f"{hs_header}.{hs_body}".encode(), hashlib.sha256).digest()
    now = int(time.time())
    attacks = {
        "another key under the stand-in's kid": signed(ec.generate_private_key(ec.SECP256R1())),
        "an unknown kid": signed(kid="not-the-stand-ins"),
        "tampered payload": tampered,
        "alg none": ".".join([_b64(b'{"alg":"none","typ":"JWT"}'), hs_body, ""]),
        "HS256 keyed with the public key": f"{hs_header}.{hs_body}.{_b64(mac)}",
        "expired": signed(exp=now - 60, iat=now - 3660),
        "another issuer": signed(iss="https://evil.supabase.co/auth/v1"),
        "another audience": signed(aud="someone-else"),
        "anon role": signed(role="anon"),
        "service_role": signed(role="service_role"),
        "no sub": signed(sub=None),
        "the anon key": stand_in.anon_key,
        "an API token prefix on a JWT": "syt_" + good,
    }
    for name, token in attacks.items():
        response = await api.get("/v1/accounts", headers=bearer_of(token))
        assert response.status_code == 401, name
        assert response.headers["content-type"] == "application/problem+json", name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
