"""The errors of switchyard's shared core.

    SwitchyardError
    ├── ConfigError            settings missing or malformed: the program must not start
    ├── VaultError             a secret could not be sealed or opened
    │   └── UndecryptableSecret   wrong row, unknown key or tampered ciphertext
    └── DatabaseError          the database refused or could not be reached
        └── MigrationError        a migration failed; nothing of it was applied

A message never contains a secret, a ciphertext or a key: only what a person needs
to act (which setting, which account id, which migration).
"""

from __future__ import annotations


class SwitchyardError(Exception):
    """Something went wrong in switchyard."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or type(self).__name__)


class ConfigError(SwitchyardError):
    """The configuration is missing or malformed."""


class VaultError(SwitchyardError):
    """A secret could not be sealed or opened."""


class UndecryptableSecret(VaultError):  # noqa: N818 - a state, not an "Error" suffix case
    """The credentials cannot be decrypted: wrong row, unknown key or tampered ciphertext."""


class DatabaseError(SwitchyardError):
    """The database refused the operation or could not be reached."""


class MigrationError(DatabaseError):
    """A migration failed; nothing of it was applied."""
