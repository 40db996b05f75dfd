"""The credential vault: Fernet with a rotating key ring, ciphertext bound to its row.

Each ring key (from SWITCHYARD_ENCRYPTION_KEYS, newest first) is a Fernet key. A secret
is never encrypted with a ring key directly: the key actually used is derived with
HKDF from the ring key *and the account id*, so a ciphertext copied onto another
account row fails Fernet's authentication there. Rotation re-encrypts under the
newest ring key; tokens under any older ring key still open until then.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from uuid import UUID

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from switchyard.errors import ConfigError, UndecryptableSecret, VaultError

_HKDF_SALT = b"switchyard.vault.account-secret.v1"


@dataclass(frozen=True, slots=True)
class RingKey:
    """One Fernet key of the ring; its repr shows only the fingerprint."""

    raw: bytes
    key_id: str

    def __repr__(self) -> str:
        return f"RingKey(key_id={self.key_id!r})"


def key_id_of(raw: bytes) -> str:
    """A short fingerprint naming a ring key in the database (not reversible)."""
    return hashlib.sha256(b"switchyard.key-id:" + raw).hexdigest()[:16]


class KeyRing:
    """Fernet keys, newest first. Refuses to exist empty or with a malformed key."""

    def __init__(self, keys: list[RingKey]) -> None:
        if not keys:
            raise ConfigError(
                "SWITCHYARD_ENCRYPTION_KEYS is empty: set it to one or more Fernet keys, "
                "newest first (create one with `switchyard keys generate`)."
            )
        self.keys = tuple(keys)

    @classmethod
    def parse(cls, value: str | None) -> KeyRing:
        """Parse `key1,key2,...`; the error names the position, never the key."""
        if value is None or not value.strip():
            raise ConfigError(
                "SWITCHYARD_ENCRYPTION_KEYS is not set: switchyard will not store or read "
                "credentials without it. Create a key with `switchyard keys generate` and "
                "keep it safe: losing it makes every stored credential unreadable."
            )
        keys: list[RingKey] = []
        for position, text in enumerate(value.split(","), start=1):
            token = text.strip()
            try:
                raw = base64.urlsafe_b64decode(token.encode("ascii"))
            except (binascii.Error, UnicodeEncodeError, ValueError):
                raw = b""
            if len(raw) != 32 or not token:
                raise ConfigError(
                    f"SWITCHYARD_ENCRYPTION_KEYS: key #{position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes, as `switchyard keys generate` prints)."
                )
            keys.append(RingKey(raw=token.encode("ascii"), key_id=key_id_of(token.encode())))
        if len({k.key_id for k in keys}) != len(keys):
            raise ConfigError("SWITCHYARD_ENCRYPTION_KEYS lists the same key twice.")
        return cls(keys)

    @property
    def newest(self) -> RingKey:
        return self.keys[0]

    def __iter__(self) -> Iterator[RingKey]:
        return iter(self.keys)

    def __repr__(self) -> str:
        return f"KeyRing({[k.key_id for k in self.keys]!r})"


def generate_key() -> str:
    """A new ring key, printable and ready for SWITCHYARD_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode("ascii")


class Credentials(Mapping[str, str]):
    """Decrypted credentials: a read-only mapping whose repr and str never show values."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Credentials({sorted(self._values)!r}, values hidden)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Sealed:
    """A ciphertext and the id of the ring key that made it: what the database stores."""

    ciphertext: str
    key_id: str

    def __repr__(self) -> str:
        return f"Sealed(key_id={self.key_id!r}, ciphertext=<{len(self.ciphertext)} chars>)"


class Vault:
    """Seals and opens account credentials with the ring, bound to the account id."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def _fernet(self, key: RingKey, account_id: UUID) -> Fernet:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=account_id.bytes
        ).derive(base64.urlsafe_b64decode(key.raw))
        return Fernet(base64.urlsafe_b64encode(derived))

    def _multi(self, account_id: UUID) -> MultiFernet:
        return MultiFernet([self._fernet(k, account_id) for k in self.ring])

    def seal(self, account_id: UUID, credentials: Mapping[str, str]) -> Sealed:
        """Encrypt credentials for one account row under the newest ring key."""
        if not credentials or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in credentials.items()
        ):
            raise VaultError("credentials must be a non-empty mapping of strings")
        plaintext = json.dumps(dict(credentials), separators=(",", ":")).encode()
        token = self._fernet(self.ring.newest, account_id).encrypt(plaintext)
        return Sealed(ciphertext=token.decode("ascii"), key_id=self.ring.newest.key_id)

    def open(self, account_id: UUID, ciphertext: str) -> Credentials:
        """Decrypt the credentials of `account_id`; any mismatch is UndecryptableSecret."""
        try:
            plaintext = self._multi(account_id).decrypt(ciphertext.encode("ascii"))
            values = json.loads(plaintext)
        except (InvalidToken, UnicodeEncodeError, ValueError) as exc:
            raise UndecryptableSecret(
                f"the credentials of account {account_id} cannot be decrypted: they were "
                "sealed for another account, under a key not in SWITCHYARD_ENCRYPTION_KEYS, "
                "or altered"
            ) from exc
        if not isinstance(values, dict):
            raise UndecryptableSecret(f"the credentials of account {account_id} are malformed")
        return Credentials({str(k): str(v) for k, v in values.items()})

    def reseal(self, account_id: UUID, ciphertext: str) -> Sealed:
        """Re-encrypt under the newest ring key (rotation); contents are unchanged."""
        try:
            token = self._multi(account_id).rotate(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise UndecryptableSecret(
                f"the credentials of account {account_id} cannot be re-encrypted: no key of "
                "the ring opens them"
            ) from exc
        return Sealed(ciphertext=token.decode("ascii"), key_id=self.ring.newest.key_id)


def mask_api_key(key: str) -> str:
    """`abcd…wxyz` for display; short keys show at most their last two characters."""
    key = key.strip()
    if len(key) >= 16:
        return f"{key[:4]}…{key[-4:]}"
    if len(key) >= 8:
        return f"…{key[-2:]}"
    return "…"


def fingerprint_api_key(key: str) -> str:
    """How an exchange account is told apart without storing its key in clear."""
    return "sha256:" + hashlib.sha256(key.strip().encode()).hexdigest()[:32]
