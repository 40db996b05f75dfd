"""The stand-in's keys, kept in the data directory and generated once (files mode 0600).

- The signing key: one P-256 private JWK (`sim-auth/signing_key.json`), shaped like the
  keys `supabase gen signing-key` writes for GoTrue's GOTRUE_JWT_KEYS (kid a UUID,
  alg ES256, key_ops sign+verify). Access tokens are ES256 under it; its public half is
  the JWKS, exactly as GoTrue derives it (use "sig", key_ops ["verify"]).
- The legacy JWT secret: SUPABASE_JWT_SECRET, else `<data_dir>/jwt_secret` — the same
  file and format the functions generate locally, so both sides share one "project".
- The anon key: a legacy API key, a JWT `{"iss": "supabase", "ref", "role": "anon",
  "iat", "exp"}` signed HS256 with that legacy secret, as Supabase signs it. Kept in
  `sim-auth/anon_key` so dev.json and a frontend's .env stay valid across restarts.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

SIGNING_KEY_FILE: Final = Path("sim-auth") / "signing_key.json"
ANON_KEY_FILE: Final = Path("sim-auth") / "anon_key"
LEGACY_SECRET_FILE: Final = Path("jwt_secret")
#: Supabase's legacy API keys are valid for ten years.
ANON_KEY_LIFETIME_S: Final = 10 * 365 * 24 * 3600 + 2 * 24 * 3600


@dataclass(frozen=True)
class SigningKey:
    """The ES256 key access tokens are signed with."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    def public_jwk(self) -> dict[str, Any]:
        """The JWKS entry, with the members (and their order) GoTrue publishes."""
        public = ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        entry = {
            "alg": "ES256",
            "crv": public["crv"],
            "ext": True,
            "key_ops": ["verify"],
            "kid": self.kid,
            "kty": "EC",
            "use": "sig",
            "x": public["x"],
            "y": public["y"],
        }
        return entry


def _write_private(path: Path, text: str) -> bool:
    """Create `path` (mode 0600) holding `text`; False if another process made it first."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def load_signing_key(data_dir: Path) -> SigningKey:
    """The data directory's signing key, generated on first use."""
    path = data_dir / SIGNING_KEY_FILE
    if not path.exists():
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private, as_dict=True)
        document = {
            "kty": "EC",
            "kid": str(uuid.uuid4()),
            "use": "sig",
            "key_ops": ["sign", "verify"],
            "alg": "ES256",
            "ext": True,
            "d": jwk["d"],
            "crv": jwk["crv"],
            "x": jwk["x"],
            "y": jwk["y"],
        }
        _write_private(path, json.dumps(document, indent=2) + "\n")
    document = json.loads(path.read_text(encoding="utf-8"))
    key = ECAlgorithm.from_jwk(document)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or document.get("alg") != "ES256":
        raise ValueError(f"{path} does not hold a private ES256 key")
    return SigningKey(kid=str(document["kid"]), private_key=key)


def load_legacy_secret(data_dir: Path, configured: str | None) -> str:
    """The project's legacy HS256 secret: the configured one, else the data dir's."""
    if configured:
        return configured
    path = data_dir / LEGACY_SECRET_FILE
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


def project_ref(legacy_secret: str) -> str:
    """A 20-letter project ref, stable for one legacy secret (hosted refs look alike)."""
    digest = hashlib.sha256(b"switchyard-sim-auth-ref\0" + legacy_secret.encode()).digest()
    letters = string.ascii_lowercase
    return "".join(letters[byte % len(letters)] for byte in digest[:20])


def _anon_key_is_valid(token: str, legacy_secret: str) -> bool:
    try:
        claims = jwt.decode(token, legacy_secret, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return False
    return claims.get("role") == "anon" and claims.get("ref") == project_ref(legacy_secret)


def load_anon_key(data_dir: Path, legacy_secret: str, *, now: int | None = None) -> str:
    """The anon key, minted once per legacy secret and kept in the data directory."""
    path = data_dir / ANON_KEY_FILE
    if path.exists():
        kept = path.read_text(encoding="utf-8").strip()
        if _anon_key_is_valid(kept, legacy_secret):
            return kept
        path.unlink()  # minted under another secret: it would be refused everywhere
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": "supabase",
        "ref": project_ref(legacy_secret),
        "role": "anon",
        "iat": issued,
        "exp": issued + ANON_KEY_LIFETIME_S,
    }
    token = jwt.encode(claims, legacy_secret, algorithm="HS256")
    _write_private(path, token + "\n")
    return path.read_text(encoding="utf-8").strip()
