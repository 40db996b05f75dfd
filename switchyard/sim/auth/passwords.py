"""Passwords as GoTrue keeps them: bcrypt (cost 10, `$2a$`) in auth.users.encrypted_password,
and its strength rules (internal/api/password.go, internal/crypto/password.go).
"""

from __future__ import annotations

import re
from typing import Final

import bcrypt

from switchyard.sim.auth import errors

#: Go's bcrypt.DefaultCost, what GoTrue hashes with.
BCRYPT_COST: Final = 10
#: bcrypt reads at most 72 bytes; GoTrue refuses longer passwords.
MAX_PASSWORD_BYTES: Final = 72
#: GoTrue's default (and the hosted default) minimum length.
MIN_PASSWORD_LENGTH: Final = 6
#: github.com/badoux/checkmail's format check, which GoTrue's validateEmail uses.
_EMAIL_FORMAT: Final = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9]"
    r"(?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)


def hash_password(password: str) -> str:
    """A bcrypt hash in Go's `$2a$` form (Python's bcrypt writes `$2b$`, the same scheme)."""
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_COST)).decode()
    return "$2a$" + digest[4:]


def check_password(password: str, encrypted: str | None) -> bool:
    """Whether `password` matches the stored hash; a user without one never matches."""
    if not encrypted or not encrypted.startswith(("$2a$", "$2b$", "$2y$")):
        return False
    candidate = password.encode()
    if len(candidate) > MAX_PASSWORD_BYTES:
        return False
    return bcrypt.checkpw(candidate, encrypted.encode())


def weakness(password: str) -> errors.WeakPasswordError | None:
    """What GoTrue's default strength rules find wrong with `password`, if anything."""
    if len(password.encode()) < MIN_PASSWORD_LENGTH:
        return errors.WeakPasswordError(
            f"Password should be at least {MIN_PASSWORD_LENGTH} characters.", ["length"]
        )
    return None


def check_strength(password: str) -> None:
    """GoTrue's checkPasswordStrength with the default configuration."""
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise errors.bad_request(
            errors.VALIDATION_FAILED,
            f"Password cannot be longer than {MAX_PASSWORD_BYTES} characters",
        )
    weak = weakness(password)
    if weak is not None:
        raise weak


def normalize_email(email: str) -> str:
    """GoTrue's validateEmail: required, at most 255 characters, well formed; lower-cased."""
    if email == "":
        raise errors.bad_request(errors.VALIDATION_FAILED, "An email address is required")
    if len(email) > 255:
        raise errors.bad_request(errors.VALIDATION_FAILED, "An email address is too long")
    if not _EMAIL_FORMAT.match(email):
        raise errors.bad_request(
            errors.VALIDATION_FAILED, "Unable to validate email address: invalid format"
        )
    return email.lower()
