"""Local identities (an `auth.users` row and an access token shaped like Supabase Auth's),
and personal API tokens.

Local identities are for development and tests only; a hosted project's tokens come from
Supabase Auth (and are verified by the functions with the project's JWKS).

An API token is `syt_` and 43 base64url characters (256 random bits). Only its SHA-256
is stored (`public.api_tokens.token_hash`): a random token that long needs no slow
password hash, and the hash cannot be turned back into a token. The prefix tells it apart
from a JWT (which has dots) before anything is parsed, and lets secret scanners find it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Final

import jwt

from switchyard.db import Connection
from switchyard.queries import queries
from switchyard.settings import Settings

#: What every API token starts with.
API_TOKEN_PREFIX: Final = "syt_"  # noqa: S105 - a prefix, not a secret
_API_TOKEN = re.compile(r"syt_[A-Za-z0-9_-]{43}")


def new_api_token() -> str:
    """A fresh API token: shown to its owner once, never stored."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def looks_like_api_token(token: str) -> bool:
    """True for the API token shape (a JWT never starts with the prefix)."""
    return token.startswith(API_TOKEN_PREFIX)


def is_well_formed_api_token(token: str) -> bool:
    return _API_TOKEN.fullmatch(token) is not None


def api_token_hash(token: str) -> bytes:
    """What the database keeps and looks up: the SHA-256 of the token."""
    return hashlib.sha256(token.encode("ascii")).digest()


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalIdentity:
    user_id: uuid.UUID
    email: str
    access_token: str

    def __repr__(self) -> str:
        return f"LocalIdentity(user_id={self.user_id}, email={self.email!r}, access_token=<hidden>)"


def ensure_user(conn: Connection, email: str) -> uuid.UUID:
    """The `auth.users` id for `email`, creating the row on first use."""
    with conn.transaction():
        row = conn.execute(queries["upsert_local_user"], {"email": email}).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def mint_token(
    settings: Settings, user_id: uuid.UUID, email: str, *, ttl_s: int = 3600, now: int | None = None
) -> str:
    """An HS256 access token with the claims Supabase Auth puts in its own."""
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": settings.local_issuer,
        "sub": str(user_id),
        "aud": "authenticated",
        "exp": issued + ttl_s,
        "iat": issued,
        "email": email,
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": issued}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    return jwt.encode(claims, settings.jwt_secret().get_secret_value(), algorithm="HS256")


def local_identity(
    conn: Connection, settings: Settings, email: str, ttl_s: int = 3600
) -> LocalIdentity:
    user_id = ensure_user(conn, email)
    return LocalIdentity(
        user_id=user_id, email=email, access_token=mint_token(settings, user_id, email, ttl_s=ttl_s)
    )
