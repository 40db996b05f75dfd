"""Access tokens: verified locally, every attack refused with 401; JWKS via respx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
import warnings

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.functions.helpers import mt5_body

pytestmark = pytest.mark.anyio

PROJECT = "https://proj.supabase.co"
JWKS_PATH = "/auth/v1/.well-known/jwks.json"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(user, **overrides):
    now = int(time.time())
    claims = {
        "sub": str(user.id),
        "role": "authenticated",
        "aud": "authenticated",
        "exp": now + 600,
        "iat": now,
        "email": user.email,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def hs256(settings, claims):
    return jwt.encode(claims, settings.supabase_jwt_secret.get_secret_value(), algorithm="HS256")


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    return ".".join([header, b64(json.dumps(claims).encode()), signature])


class SigningKey:
    """An asymmetric key as Supabase publishes it in the project's JWKS."""

    def __init__(self, kid: str, alg: str = "ES256") -> None:
        self.kid, self.alg = kid, alg
        if alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        algorithm = jwt.algorithms.get_default_algorithms()[alg]
        self.jwk = {
            **json.loads(algorithm.to_jwk(self.private.public_key())),
            "kid": kid,
            "alg": alg,
            "use": "sig",
        }

    def sign(self, claims) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid})

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def jwks(*keys: SigningKey) -> dict:
    return {"keys": [k.jwk for k in keys]}


async def status(client, token: str | None, raw_header: str | None = None) -> httpx.Response:
    headers = {}
    if raw_header is not None:
        headers["authorization"] = raw_header
    elif token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await client.get("/v1/accounts", headers=headers)


async def test_a_valid_local_token_is_accepted(client, users, settings):
    alice, _ = users
    assert (await status(client, hs256(settings, claims_for(alice)))).status_code == 200


async def test_every_token_attack_is_401(client, users, settings):
    alice, _ = users
    good = hs256(settings, claims_for(alice))
    unsigned = ".".join(
        [b64(b'{"alg":"none","typ":"JWT"}'), b64(json.dumps(claims_for(alice)).encode()), ""]
    )
    wrong_secret = jwt.encode(claims_for(alice), "another-secret-" + "y" * 40, algorithm="HS256")
    key = SigningKey("k1")
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps(claims_for(alice)).encode())
    mac = hmac.new(key.public_pem(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    hs256_with_public_key = f"{header}.{body}.{b64(mac)}"
    with warnings.catch_warnings():  # the attacker's key length is not our concern
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        hs512 = jwt.encode(
            claims_for(alice), settings.supabase_jwt_secret.get_secret_value(), algorithm="HS512"
        )
    attacks = {
        "alg none": unsigned,
        "wrong secret": wrong_secret,
        "HS256 signed with a public key": hs256_with_public_key,
        "HS512 (not allowed)": hs512,
        "ES256 with no JWKS configured": key.sign(claims_for(alice)),
        "expired": hs256(settings, claims_for(alice, exp=int(time.time()) - 60)),
        "not yet valid": hs256(settings, claims_for(alice, nbf=int(time.time()) + 600)),
        "wrong aud": hs256(settings, claims_for(alice, aud="someone-else")),
        "no aud": hs256(settings, claims_for(alice, aud=None)),
        "anon role": hs256(settings, claims_for(alice, role="anon")),
        "service_role": hs256(settings, claims_for(alice, role="service_role")),
        "no role": hs256(settings, claims_for(alice, role=None)),
        "no sub": hs256(settings, claims_for(alice, sub=None)),
        "non-UUID sub": hs256(settings, claims_for(alice, sub="alice")),
        "numeric sub": hs256(settings, claims_for(alice, sub=12345)),
        "no exp": hs256(settings, claims_for(alice, exp=None)),
        "tampered payload": tamper(good),
        "garbage": "not.a.jwt",
        "huge": "a" * 10_000,
    }
    for name, token in attacks.items():
        response = await status(client, token)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        assert response.headers["content-type"] == "application/problem+json", name
    for header_value in ("", "Basic abc", "Bearer", f"Token {good}"):
        assert (await status(client, None, header_value)).status_code == 401, header_value
    assert (await status(client, None)).status_code == 401


async def test_small_clock_skew_is_tolerated(client, users, settings):
    alice, _ = users
    token = hs256(settings, claims_for(alice, exp=int(time.time()) - 3))
    assert (await status(client, token)).status_code == 200


async def test_issuer_is_checked_when_configured(make_client, users, settings):
    alice, _ = users
    client = await make_client(jwt_issuer=f"{PROJECT}/auth/v1")
    right = hs256(settings, claims_for(alice, iss=f"{PROJECT}/auth/v1"))
    wrong = hs256(settings, claims_for(alice, iss="https://evil.supabase.co/auth/v1"))
    assert (await status(client, right)).status_code == 200
    assert (await status(client, wrong)).status_code == 401


async def jwks_client(make_client, **overrides):
    return await make_client(supabase_url=PROJECT, **overrides)


async def test_es256_and_rs256_tokens_verify_with_the_project_jwks(make_client, users):
    alice, _ = users
    es, rs = SigningKey("es-1"), SigningKey("rs-1", "RS256")
    with respx.mock(base_url=PROJECT) as mock:
        route = mock.get(JWKS_PATH).mock(return_value=httpx.Response(200, json=jwks(es, rs)))
        client = await jwks_client(make_client)
        assert (await status(client, es.sign(claims_for(alice)))).status_code == 200
        assert (await status(client, rs.sign(claims_for(alice)))).status_code == 200
        assert (await status(client, es.sign(claims_for(alice)))).status_code == 200
        assert route.call_count == 1  # cached


async def test_a_key_whose_alg_differs_from_the_token_is_refused(make_client, users):
    alice, _ = users
    es = SigningKey("k")
    rs = SigningKey("k", "RS256")  # same kid, other algorithm: a confusion attempt
    with respx.mock(base_url=PROJECT) as mock:
        mock.get(JWKS_PATH).mock(return_value=httpx.Response(200, json=jwks(es)))
        client = await jwks_client(make_client)
        assert (await status(client, rs.sign(claims_for(alice)))).status_code == 401


async def test_key_rotation_refetches_on_an_unknown_kid(make_client, users):
    alice, _ = users
    old, new = SigningKey("old"), SigningKey("new")
    with respx.mock(base_url=PROJECT) as mock:
        route = mock.get(JWKS_PATH).mock(
            side_effect=[
                httpx.Response(200, json=jwks(old)),
                httpx.Response(200, json=jwks(old, new)),
            ]
        )
        client = await jwks_client(make_client, jwks_min_refetch_s=0)
        assert (await status(client, old.sign(claims_for(alice)))).status_code == 200
        assert (await status(client, new.sign(claims_for(alice)))).status_code == 200
        assert route.call_count == 2


async def test_unknown_kids_cannot_make_a_flood_of_jwks_fetches(make_client, users):
    alice, _ = users
    known = SigningKey("known")
    with respx.mock(base_url=PROJECT) as mock:
        route = mock.get(JWKS_PATH).mock(return_value=httpx.Response(200, json=jwks(known)))
        client = await jwks_client(make_client, jwks_min_refetch_s=60)
        assert (await status(client, known.sign(claims_for(alice)))).status_code == 200
        for i in range(20):
            forged = SigningKey(f"forged-{i}")
            assert (await status(client, forged.sign(claims_for(alice)))).status_code == 401
        assert route.call_count == 1  # the first fetch; the flood is inside the interval


async def test_a_jwks_outage_does_not_break_tokens_signed_by_cached_keys(make_client, users):
    alice, _ = users
    key = SigningKey("k1")
    with respx.mock(base_url=PROJECT) as mock:
        route = mock.get(JWKS_PATH).mock(
            side_effect=[
                httpx.Response(200, json=jwks(key)),
                httpx.ConnectError("supabase is down"),
                httpx.Response(503, text="maintenance"),
                httpx.Response(200, text="<html>not json</html>"),
            ]
        )
        # every use finds the cache stale and tries to refresh: each attempt fails
        client = await jwks_client(make_client, jwks_cache_ttl_s=0.001, jwks_min_refetch_s=0)
        for _ in range(4):
            assert (await status(client, key.sign(claims_for(alice)))).status_code == 200
        assert route.call_count == 4


async def test_a_key_removed_from_the_jwks_stops_working(make_client, users):
    alice, _ = users
    revoked, current = SigningKey("revoked"), SigningKey("current")
    with respx.mock(base_url=PROJECT) as mock:
        mock.get(JWKS_PATH).mock(
            side_effect=[
                httpx.Response(200, json=jwks(revoked, current)),
                httpx.Response(200, json=jwks(current)),
                httpx.Response(200, json=jwks(current)),
            ]
        )
        client = await jwks_client(make_client, jwks_cache_ttl_s=0.001, jwks_min_refetch_s=0)
        assert (await status(client, revoked.sign(claims_for(alice)))).status_code == 200
        assert (await status(client, revoked.sign(claims_for(alice)))).status_code == 401
        assert (await status(client, current.sign(claims_for(alice)))).status_code == 200


async def test_a_jwks_outage_at_first_use_refuses_only_until_it_recovers(make_client, users):
    alice, _ = users
    key = SigningKey("k1")
    with respx.mock(base_url=PROJECT) as mock:
        mock.get(JWKS_PATH).mock(
            side_effect=[
                httpx.ConnectError("down"),
                httpx.Response(200, json=jwks(key)),
            ]
        )
        client = await jwks_client(make_client, jwks_min_refetch_s=0)
        assert (await status(client, key.sign(claims_for(alice)))).status_code == 401
        assert (await status(client, key.sign(claims_for(alice)))).status_code == 200


async def test_a_valid_token_whose_user_was_deleted_is_401_and_changes_nothing(
    client, make_user, db
):
    """A deleted user with a live token: 401 problem+json, never a 500, and nothing written."""
    gone = make_user("gone@example.com")
    db.execute("delete from auth.users where id = %s", (gone.id,))
    for response in (
        await client.get("/v1/accounts", headers={"authorization": f"Bearer {gone.token}"}),
        await client.post(
            "/v1/accounts",
            params={"wait": 0},
            json=mt5_body(),
            headers={"authorization": f"Bearer {gone.token}"},
        ),
    ):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "sign in again" in response.json()["detail"]
    for table in (
        "public.accounts",
        "public.jobs",
        "public.audit_log",
        "private.rate_limit_counters",
    ):
        assert db.execute(f"select count(*) as n from {table}").fetchone()["n"] == 0, table
