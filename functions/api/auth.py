"""Access tokens, verified locally on every request: no call to Supabase Auth.

Accepted: ES256/RS256 tokens signed by a key of the project's JWKS, and HS256 tokens
signed with the legacy/local JWT secret. Checked: the signature, the algorithm (an
allow-list; the key's type must match it), `exp`/`nbf`/`iat` with a small leeway,
`aud`, `iss` when configured, `role = authenticated` and a UUID `sub`.
Every refusal is `Unauthorized` with a reason that names no key and quotes no token.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from pydantic import SecretStr

from functions.api.jwks import ASYMMETRIC_ALGORITHMS, JwksCache
from functions.api.problems import Unauthorized
from switchyard.errors import ConfigError
from switchyard.settings import Settings

#: The longest token we are willing to parse (Supabase's are well under 2 KiB).
MAX_TOKEN_CHARS = 8192


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: their id and the claims the database will see.

    `api_token` is set when the caller came with an API token (functions/api/apitokens.py)
    rather than a signed-in session's access token.
    """

    user_id: uuid.UUID
    claims: Mapping[str, Any] = field(repr=False)
    api_token: uuid.UUID | None = None


def hs256_secret(settings: Settings) -> SecretStr | None:
    """The HS256 secret, if tokens signed with one are accepted here.

    Set: SUPABASE_JWT_SECRET. Development: the local generated one. Production with
    only SUPABASE_URL (asymmetric keys): none, HS256 is refused.
    """
    if settings.supabase_jwt_secret is not None:
        return settings.supabase_jwt_secret
    if settings.environment == "development":
        return settings.jwt_secret()
    if settings.supabase_url:
        return None
    raise ConfigError(
        "neither SUPABASE_URL (JWKS) nor SUPABASE_JWT_SECRET is set: the functions "
        "cannot verify access tokens"
    )


class TokenVerifier:
    """Verifies bearer tokens into a `Principal`."""

    def __init__(
        self,
        *,
        hs256: SecretStr | None,
        jwks: JwksCache | None,
        audience: str,
        issuer: str | None,
        leeway_s: int,
    ) -> None:
        if hs256 is None and jwks is None:
            raise ConfigError(
                "no way to verify access tokens: set SUPABASE_URL or SUPABASE_JWT_SECRET"
            )
        self._hs256 = hs256
        self._jwks = jwks
        self._audience = audience
        self._issuer = issuer
        self._leeway_s = leeway_s

    async def verify(self, token: str) -> Principal:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("the access token is missing or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise Unauthorized("the access token is not a JWT") from None
        alg = header.get("alg")
        key: Any
        if alg == "HS256" and self._hs256 is not None:
            key = self._hs256.get_secret_value()
        elif alg in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise Unauthorized("the access token names no signing key (kid)")
            jwk = await self._jwks.key(kid)
            if jwk is None:
                raise Unauthorized("the access token is signed by an unknown key")
            if jwk.algorithm_name != alg:
                raise Unauthorized("the access token's algorithm does not match its key")
            key = jwk.key
        else:
            raise Unauthorized(f"tokens signed with {alg!s:.16} are not accepted")
        claims = self._decode(token, key, alg)
        return Principal(user_id=self._subject(claims), claims=claims)

    def _decode(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": ["exp", "sub", "role", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the access token has expired: sign in again") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("the access token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("the access token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("the access token was issued by another project") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"the access token has no {exc.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the access token's signature is invalid") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("the access token is invalid") from None
        if claims.get("role") != "authenticated":
            raise Unauthorized(
                "the access token is not a signed-in user's (role is not authenticated)"
            )
        return claims

    @staticmethod
    def _subject(claims: Mapping[str, Any]) -> uuid.UUID:
        sub = claims.get("sub")
        refusal = Unauthorized("the access token's subject is not a user id")
        if not isinstance(sub, str) or len(sub) != 36:
            raise refusal
        try:
            return uuid.UUID(sub)
        except ValueError:
            raise refusal from None


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        raise Unauthorized("send your access token as 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()
