"""Access tokens: GoTrue's claims (internal/tokens/service.go), signed ES256; and the
verification GoTrue applies to a bearer token (internal/api/auth.go parseJWTClaims).

Claims, in GoTrue's order: iss, sub, aud (one string), exp, iat, email, phone,
app_metadata, user_metadata, role, aal, amr, session_id, is_anonymous. Header:
alg ES256, kid, typ JWT.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

from switchyard.sim.auth import errors
from switchyard.sim.auth.keys import SigningKey

#: What GoTrue accepts for its own configured keys: the ES256 key and the legacy secret.
VALID_ALGORITHMS = ("ES256", "HS256")


@dataclass(frozen=True, slots=True)
class AmrEntry:
    """One `amr` entry: how and when this session was authenticated."""

    method: str
    timestamp: int

    def as_claim(self) -> dict[str, Any]:
        return {"method": self.method, "timestamp": self.timestamp}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str = field(repr=False)
    expires_at: int


class TokenService:
    """Signs access tokens and verifies the bearer tokens GoTrue would accept."""

    def __init__(
        self, *, issuer: str, signing_key: SigningKey, legacy_secret: str, exp_s: int
    ) -> None:
        self.issuer = issuer
        self.signing_key = signing_key
        self._legacy_secret = legacy_secret
        self.exp_s = exp_s

    def issue(
        self,
        user: dict[str, Any],
        *,
        session_id: str,
        aal: str,
        amr: Sequence[AmrEntry],
        now: dt.datetime,
    ) -> IssuedToken:
        issued = int(now.timestamp())
        expires = issued + self.exp_s
        claims = {
            "iss": self.issuer,
            "sub": str(user["id"]),
            "aud": user["aud"] or "",
            "exp": expires,
            "iat": issued,
            "email": user["email"] or "",
            "phone": user["phone"] or "",
            "app_metadata": user["raw_app_meta_data"] or {},
            "user_metadata": user["raw_user_meta_data"] or {},
            "role": user["role"] or "",
            "aal": aal,
            "amr": [entry.as_claim() for entry in amr],
            "session_id": session_id,
            "is_anonymous": bool(user["is_anonymous"]),
        }
        token = jwt.encode(
            claims,
            self.signing_key.private_key,
            algorithm="ES256",
            headers={"kid": self.signing_key.kid},
        )
        return IssuedToken(access_token=token, expires_at=expires)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.public_jwk()]}

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token GoTrue would accept, else its 403 bad_jwt."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise _bad_jwt(f"token is malformed: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        key: Any
        if alg not in VALID_ALGORITHMS:
            raise _bad_jwt(f"token is unverifiable: signing method {alg} is invalid")
        if kid == self.signing_key.kid and alg == "ES256":
            key = self.signing_key.private_key.public_key()
        elif alg == "HS256":
            key = self._legacy_secret
        else:
            raise _bad_jwt(
                "token is unverifiable: error while executing keyfunc: "
                f"unrecognized JWT kid {kid} for algorithm {alg}"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                options={"verify_aud": False, "verify_iat": False, "verify_iss": False},
            )
        except jwt.ExpiredSignatureError:
            raise _bad_jwt("token has invalid claims: token is expired") from None
        except jwt.ImmatureSignatureError:
            raise _bad_jwt("token has invalid claims: token is not valid yet") from None
        except jwt.InvalidSignatureError:
            detail = "signature is invalid"
            if alg == "ES256":
                detail = "crypto/ecdsa: verification error"
            raise _bad_jwt(f"token signature is invalid: {detail}") from None
        except jwt.InvalidTokenError as exc:
            raise _bad_jwt(f"token is malformed: {exc}") from None
        return claims


def _bad_jwt(reason: str) -> errors.ApiError:
    return errors.forbidden(
        errors.BAD_JWT, f"invalid JWT: unable to parse or verify signature, {reason}"
    )
