"""A lane's terminal session: which account it is on, and the critical section.

The invariant: an order is sent only while the terminal is verified (account_info()
login AND server) to be logged in to the job's account, and nothing else can happen on
the terminal between that check and the send. `critical(account)` is that section:
it holds the lane's lock, checks the terminal lease, logs in when needed (decrypting
the password just before and dropping it right after), checks `account_info()` again,
and only then yields. A login that fails, times out or is ambiguous raises, so the
body (the send) never runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from switchyard.errors import CredentialsRejected, VenueUnavailable, WrongAccount
from switchyard.vault import Vault
from worker.leases import LeaseClock
from worker.venue import Account
from worker.venues.mt5.bridge import Bridge
from worker.venues.mt5.constants import RES_E_AUTH_FAILED
from worker.venues.mt5.parsing import AccountInfo

log = logging.getLogger(__name__)


def login_of(account: Account) -> int:
    """The MT5 login number (the schema keeps it as digits only)."""
    return int(account.login)


def matches(account: Account, info: AccountInfo | None) -> bool:
    """Whether the terminal reports `account`: its login AND its server."""
    return info is not None and info.login == login_of(account) and info.server == account.server


class TerminalSession:
    """One terminal, used by one lane thread at a time."""

    def __init__(
        self, bridge: Bridge, vault: Vault, terminal_lease: LeaseClock, *, send_margin_s: float
    ) -> None:
        self.bridge = bridge
        self.vault = vault
        self.terminal_lease = terminal_lease
        self.send_margin_s = send_margin_s
        self._lock = threading.Lock()
        #: The account the terminal was last verified to be on (a hint for scheduling).
        self.logged_in: UUID | None = None

    @contextmanager
    def critical(self, account: Account, *, verify: bool = False) -> Iterator[AccountInfo]:
        """The terminal, verified to be on `account`, with no one else in between.

        `verify`: log in with the stored credentials even when already on the account,
        and only once (a refused login is the verdict); otherwise a refused login is tried
        once more before it counts.
        """
        with self._lock:
            self.terminal_lease.require(self.send_margin_s)
            yield self._ensure(account, force_login=verify, attempts=1 if verify else 2)

    def _ensure(self, account: Account, *, force_login: bool, attempts: int) -> AccountInfo:
        info = self.bridge.account_info()
        if not force_login and matches(account, info):
            assert info is not None
            self.logged_in = account.id
            return info
        self.logged_in = None
        for attempt in range(1, attempts + 1):
            try:
                self._login(account)
                break
            except CredentialsRejected:
                if attempt == attempts:
                    raise
                log.info("login to account %s rejected; trying once more", account.id)
        # A login can take long: the lease must still cover what the caller does next.
        self.terminal_lease.require(self.send_margin_s)
        info = self.bridge.account_info()
        if not matches(account, info):
            # The other account is someone else's: named in the log, never in the job.
            log.warning(
                "terminal %s: after the login to account %s it reports %s",
                self.bridge.address,
                account.id,
                f"{info.login}@{info.server}" if info is not None else "no account",
            )
            seen = "a different account" if info is not None else "no account"
            raise WrongAccount(
                f"the login to {login_of(account)}@{account.server} was reported as done, but "
                f"the terminal at {self.bridge.address} then reported {seen}: nothing was sent"
            )
        assert info is not None
        self.logged_in = account.id
        return info

    def _login(self, account: Account) -> None:
        if account.ciphertext is None:
            raise CredentialsRejected(f"account {account.id} has no stored credentials")
        credentials = self.vault.open(account.id, account.ciphertext)
        try:
            password = credentials.get("password")
            if not password:
                raise CredentialsRejected(
                    f"the stored credentials of account {account.id} have no password"
                )
            answer = self.bridge.login(login_of(account), password, account.server or "")
        finally:
            del credentials
            password = None
        if answer.ok:
            return
        if answer.error.code == RES_E_AUTH_FAILED:
            raise CredentialsRejected(
                f"the terminal refused the login to {login_of(account)}@{account.server}: "
                f"{answer.error.message}"
            )
        raise VenueUnavailable(
            f"the login to {login_of(account)}@{account.server} on {self.bridge.address} did "
            f"not complete: {answer.error.message} ({answer.error.code})"
        )
