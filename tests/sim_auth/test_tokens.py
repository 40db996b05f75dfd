"""Access tokens and keys: the hosted claim shape, ES256 under the JWKS, the anon key.

The functions' own JwksCache + TokenVerifier are imported here (a test may; the
stand-in may not) to prove they accept the stand-in's tokens on the production path.
"""

from __future__ import annotations

import asyncio
import os
import stat
import uuid

import httpx
import jwt
import pytest
from jwt import PyJWK

from functions.api.auth import TokenVerifier
from functions.api.jwks import JwksCache, jwks_url
from functions.api.problems import Unauthorized
from switchyard.settings import Settings
from switchyard.sim.auth import keys
from tests.sim_auth.helpers import PASSWORD, client, jwt_part, raw


def _session(auth):
    return client(auth).auth.sign_up({"email": "alice@example.com", "password": PASSWORD}).session


def _jwks(auth) -> dict:
    response = httpx.get(f"{auth.supabase_url}/auth/v1/.well-known/jwks.json", timeout=30)
    assert response.status_code == 200
    return response.json()


def test_the_access_token_has_the_hosted_header_and_exactly_the_hosted_claims(start_auth, db):
    auth = start_auth(jwt_exp_s=1234)
    session = _session(auth)
    header = jwt_part(session.access_token, 0)
    [published] = _jwks(auth)["keys"]
    assert header == {"alg": "ES256", "kid": published["kid"], "typ": "JWT"}
    claims = jwt_part(session.access_token, 1)
    assert list(claims) == [
        "iss", "sub", "aud", "exp", "iat", "email", "phone", "app_metadata",
        "user_metadata", "role", "aal", "amr", "session_id", "is_anonymous",
    ]  # fmt: skip
    assert claims["iss"] == f"{auth.supabase_url}/auth/v1"
    assert claims["sub"] == session.user.id
    assert claims["aud"] == "authenticated"
    assert claims["role"] == "authenticated"
    assert claims["exp"] - claims["iat"] == 1234
    assert session.expires_at == claims["exp"]
    assert (claims["email"], claims["phone"]) == ("alice@example.com", "")
    assert claims["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert claims["user_metadata"] == {"email_verified": True}
    assert claims["aal"] == "aal1"
    assert claims["amr"] == [{"method": "password", "timestamp": claims["iat"]}]
    assert claims["is_anonymous"] is False
    row = db.execute(
        "select user_id::text from auth.sessions where id = %s", (claims["session_id"],)
    ).fetchone()
    assert row == {"user_id": session.user.id}


def test_the_jwks_is_open_and_verifies_the_tokens(auth):
    session = _session(auth)
    [published] = _jwks(auth)["keys"]
    assert published == {
        "alg": "ES256",
        "crv": "P-256",
        "ext": True,
        "key_ops": ["verify"],
        "kid": published["kid"],
        "kty": "EC",
        "use": "sig",
        "x": published["x"],
        "y": published["y"],
    }
    assert "d" not in published
    uuid.UUID(published["kid"])
    key = PyJWK(published).key
    claims = jwt.decode(session.access_token, key, algorithms=["ES256"], audience="authenticated")
    assert claims["sub"] == session.user.id
    tampered = session.access_token[:-4] + (
        "AAAA" if session.access_token[-4:] != "AAAA" else "BBBB"
    )
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, key, algorithms=["ES256"], audience="authenticated")


def test_the_supabase_client_verifies_the_token_against_the_jwks(auth):
    supabase = client(auth)
    supabase.auth.sign_up({"email": "alice@example.com", "password": PASSWORD})
    verified = supabase.auth.get_claims()
    assert verified is not None
    assert verified["claims"]["role"] == "authenticated"
    assert verified["headers"]["alg"] == "ES256"


def _functions_verifier(auth, client_: httpx.AsyncClient) -> TokenVerifier:
    cache = JwksCache(jwks_url(auth.supabase_url), client=client_, ttl_s=600, min_refetch_s=30)
    return TokenVerifier(
        hs256=None,
        jwks=cache,
        audience="authenticated",
        issuer=f"{auth.supabase_url}/auth/v1",
        leeway_s=10,
    )


def test_the_functions_verify_a_stand_in_token_through_their_jwks_path(auth):
    session = _session(auth)

    async def verify(token: str):
        async with httpx.AsyncClient(timeout=30) as http:
            return await _functions_verifier(auth, http).verify(token)

    principal = asyncio.run(verify(session.access_token))
    assert str(principal.user_id) == session.user.id
    assert principal.claims["aal"] == "aal1"
    with pytest.raises(Unauthorized):
        asyncio.run(verify(auth.anon_key))  # HS256 and role anon: never a user


def test_the_signing_key_is_private_to_the_data_dir_and_kept_across_restarts(start_auth):
    first = start_auth()
    kid = _jwks(first)["keys"][0]["kid"]
    first.stop()
    second = start_auth()
    assert _jwks(second)["keys"][0]["kid"] == kid
    path = second.data_dir / keys.SIGNING_KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_the_anon_key_is_a_legacy_anon_jwt_signed_with_the_projects_jwt_secret(auth, tmp_path):
    header, claims = jwt_part(auth.anon_key, 0), jwt_part(auth.anon_key, 1)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert list(claims) == ["iss", "ref", "role", "iat", "exp"]
    assert (claims["iss"], claims["role"]) == ("supabase", "anon")
    assert len(claims["ref"]) == 20
    assert claims["ref"].isalpha()
    assert claims["ref"].islower()
    # The same secret the functions generate locally (SUPABASE_JWT_SECRET's stand-in).
    settings = Settings.model_validate({"SWITCHYARD_DATA_DIR": auth.data_dir})
    secret = settings.jwt_secret().get_secret_value()
    assert jwt.decode(auth.anon_key, secret, algorithms=["HS256"])["role"] == "anon"
    with raw(auth) as http:
        assert http.get("/settings").status_code == 200


def test_a_token_signed_with_another_secret_is_bad_jwt(auth):
    session = _session(auth)
    forged = jwt.encode(
        jwt_part(session.access_token, 1),
        "not the project secret but another " * 2,
        algorithm="HS256",
    )
    with raw(auth) as http:
        answer = http.get("/user", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 403
    assert answer.json()["code"] == "bad_jwt"
    assert answer.json()["message"].startswith("invalid JWT: unable to parse or verify signature")
