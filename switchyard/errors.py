"""switchyard's one error tree: the kernel's errors and the worker's.

    SwitchyardError
    ├── ConfigError            settings missing or malformed: the program must not start
    ├── VaultError             a secret could not be sealed or opened
    │   └── UndecryptableSecret   wrong row, unknown key or tampered ciphertext
    ├── DatabaseError          the database refused or could not be reached
    │   └── MigrationError        a migration failed; nothing of it was applied
    └── WorkerError            the worker could not do what a job asked
        ├── VenueError            a venue (an MT5 terminal, an exchange) could not be used
        │   ├── VenueUnavailable     nothing was sent: connecting or a read failed
        │   └── AmbiguousOutcome     a login or order was sent, its outcome is unknown
        ├── WrongAccount          the venue session is not on the job's account: nothing sent
        ├── CredentialsRejected   the venue refused the stored credentials
        └── LeaseLost             our lease on a job or terminal ended: hands off

A message never contains a secret, a ciphertext or a key: only what a person needs
to act (which setting, which account id, which migration, which terminal address).
The HTTP functions answer with problems of their own (functions/api/problems.py); they
never raise or catch the worker's branch.
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


class WorkerError(SwitchyardError):
    """The worker could not do what it was asked."""


class VenueError(WorkerError):
    """The venue (an MT5 terminal, an exchange) could not be used."""


class VenueUnavailable(VenueError):  # noqa: N818 - a state of the venue
    """The venue could not be reached or could not answer; nothing was sent."""


class AmbiguousOutcome(VenueError):  # noqa: N818 - the outcome, not an error of ours
    """A request reached the venue but its outcome is unknown (timeout, lost connection)."""


class WrongAccount(WorkerError):  # noqa: N818 - a state of the venue session
    """The venue session is not on the job's account; nothing was sent."""


class LeaseLost(WorkerError):  # noqa: N818 - a state of the lease
    """The lease ended: another worker may own the job or terminal now."""


class CredentialsRejected(WorkerError):  # noqa: N818 - the venue's verdict
    """The venue refused the stored credentials."""
