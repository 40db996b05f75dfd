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
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from functions.core.vault import Vault
from worker.errors import CredentialsRejected, TerminalUnavailable, WrongAccount
from worker.leases import LeaseClock
from worker.mt5.bridge import Bridge
from worker.mt5.constants import RES_E_AUTH_FAILED
from worker.mt5.types import AccountInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mt5Account:
    """The job's account as the database has it (the ciphertext stays sealed here)."""

    id: UUID
    user_id: UUID
    login: int
    server: str
    status: str
    is_active: bool
    risk_limits: dict[str, Any] = field(default_factory=dict)
    ciphertext: str | None = field(default=None, repr=False)

    def matches(self, info: AccountInfo | None) -> bool:
        return info is not None and info.login == self.login and info.server == self.server


class Session:
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
    def critical(self, account: Mt5Account, *, login_attempts: int = 2) -> Iterator[AccountInfo]:
        """The terminal, verified to be on `account`, with no one else in between."""
        with self._lock:
            self.terminal_lease.require(self.send_margin_s)
            info = self._ensure(account, force_login=False, attempts=login_attempts)
            yield info

    def verify(self, account: Mt5Account) -> AccountInfo:
        """Log in with the stored credentials even when already on the account."""
        with self._lock:
            self.terminal_lease.require(self.send_margin_s)
            return self._ensure(account, force_login=True, attempts=1)

    def _ensure(self, account: Mt5Account, *, force_login: bool, attempts: int) -> AccountInfo:
        info = self.bridge.account_info()
        if not force_login and account.matches(info):
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
        if not account.matches(info):
            seen = f"{info.login}@{info.server}" if info is not None else "no account"
            raise WrongAccount(
                f"after logging in to {account.login}@{account.server} the terminal at "
                f"{self.bridge.address} reports {seen}: nothing was sent"
            )
        assert info is not None
        self.logged_in = account.id
        return info

    def _login(self, account: Mt5Account) -> None:
        if account.ciphertext is None:
            raise CredentialsRejected(f"account {account.id} has no stored credentials")
        credentials = self.vault.open(account.id, account.ciphertext)
        try:
            password = credentials.get("password")
            if not password:
                raise CredentialsRejected(
                    f"the stored credentials of account {account.id} have no password"
                )
            answer = self.bridge.login(account.login, password, account.server)
        finally:
            del credentials
            password = None
        if answer.ok:
            return
        if answer.error.code == RES_E_AUTH_FAILED:
            raise CredentialsRejected(
                f"the terminal refused the login to {account.login}@{account.server}: "
                f"{answer.error.message}"
            )
        raise TerminalUnavailable(
            f"the login to {account.login}@{account.server} on {self.bridge.address} did "
            f"not complete: {answer.error.message} ({answer.error.code})"
        )
