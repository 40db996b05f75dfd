"""The worker's errors.

    SwitchyardError (functions.core.errors)
    └── WorkerError
        ├── TerminalError           a terminal could not be used
        │   ├── TerminalUnavailable    nothing was sent: connecting or a read failed
        │   └── AmbiguousOutcome       a login or order was sent, its outcome is unknown
        ├── WrongAccount            the terminal is not on the job's account: nothing sent
        ├── CredentialsRejected     the venue refused the stored credentials
        └── LeaseLost               our lease on a job or terminal ended: hands off

A message never contains a secret; terminal errors name the terminal's address.
"""

from __future__ import annotations

from functions.core.errors import SwitchyardError


class WorkerError(SwitchyardError):
    """The worker could not do what it was asked."""


class TerminalError(WorkerError):
    """The MT5 terminal could not be used."""


class TerminalUnavailable(TerminalError):  # noqa: N818 - a state of the terminal
    """The MT5 terminal could not be reached; nothing was sent."""


class AmbiguousOutcome(TerminalError):  # noqa: N818 - the outcome, not an error of ours
    """A request reached the terminal but its outcome is unknown (timeout, lost connection)."""


class WrongAccount(WorkerError):  # noqa: N818 - a state of the terminal
    """The terminal is not logged in to the job's account; nothing was sent."""


class LeaseLost(WorkerError):  # noqa: N818 - a state of the lease
    """The lease ended: another worker may own the job or terminal now."""


class CredentialsRejected(WorkerError):  # noqa: N818 - the venue's verdict
    """The venue refused the stored credentials."""
