"""Local identities: an `auth.users` row and an access token shaped like Supabase Auth's.

For local development and tests only; a hosted project's tokens come from Supabase Auth
(and are verified by the functions with the project's JWKS).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from functions.core.db import Connection
from functions.core.queries import queries
from functions.core.settings import Settings


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
