"""The one terminal of this process: global state behind one lock.

rpyc's ThreadedServer serves every client connection in its own thread, and all of
them share this module, exactly as all Python scripts attached to one real terminal
share its single logged-in account. Every read and write of terminal state happens
under ``Terminal.lock``; logins are additionally serialised by ``login_lock``.

With a state file configured (``SWITCHYARD_SIM_MT5_STATE``), every change that matters
is written to it (``Terminal.persist``) and a restarted process picks up where the
last one stopped (``_persist``).
"""

import random
import threading
from typing import Final

from ._book import Book
from ._config import AccountSpec, SimConfig
from ._constants import (
    DEAL_ENTRY_IN,
    DEAL_REASON_CLIENT,
    DEAL_TYPE_BALANCE,
    RES_E_AUTH_FAILED,
    RES_E_INTERNAL_FAIL_CONNECT,
    RES_E_INTERNAL_FAIL_TIMEOUT,
    RES_E_INVALID_PARAMS,
    RES_E_NOT_FOUND,
    RES_S_OK,
)
from ._faults import Faults
from ._journal import Journal
from ._market import Clock, Market
from ._persist import StateFile, dump, open_state, restore
from ._trade_types import TradeDeal

ErrorInfo = tuple[int, str]
AccountKey = tuple[str, int]

ERR_SUCCESS: Final[ErrorInfo] = (RES_S_OK, "Success")
ERR_NO_IPC: Final[ErrorInfo] = (RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
ERR_AUTH_FAILED: Final[ErrorInfo] = (RES_E_AUTH_FAILED, "Terminal: Authorization failed")
ERR_IPC_TIMEOUT: Final[ErrorInfo] = (RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
ERR_NOT_FOUND: Final[ErrorInfo] = (RES_E_NOT_FOUND, "Terminal: Not found")
ERR_INVALID_PARAMS: Final[ErrorInfo] = (RES_E_INVALID_PARAMS, "Terminal: Invalid params")


def invalid_argument(name: str) -> ErrorInfo:
    return (RES_E_INVALID_PARAMS, f'Invalid "{name}" argument')


class Terminal:
    """State of one simulated MetaTrader 5 terminal and the trade servers behind it."""

    def __init__(self, config: SimConfig) -> None:
        """A terminal with no accounts yet and nothing on disk (see ``build``)."""
        self.config = config
        self.lock = threading.RLock()
        self.login_lock = threading.Lock()
        self.clock = Clock()
        if config.frozen_time_s is not None:
            self.clock.freeze(config.frozen_time_s)
        self.market = Market.create(config.seed, config.symbols, self.clock)
        self.rng = random.Random(config.seed)  # noqa: S311 - a seeded simulation
        self.journal = Journal(config.journal_path)
        self.faults = Faults()
        self.accounts: dict[AccountKey, AccountSpec] = {}
        self.books: dict[AccountKey, Book] = {}
        self.selected: set[str] = set(config.symbols)
        self.ipc = False
        self.current: AccountKey | None = None
        #: Accounts whose password the terminal remembers (logged in once before).
        self.saved: set[AccountKey] = set()
        self.last_error: ErrorInfo = ERR_SUCCESS
        self._next_order = 50_000_000 + self.rng.randrange(1000) * 10_000
        self._next_deal = 20_000_000 + self.rng.randrange(1000) * 10_000
        self._next_request_id = 0
        #: Where every change is written; None keeps the terminal in memory only.
        self.store: StateFile | None = None

    def persist(self) -> None:
        """Write the state file after a change (call under ``lock``; no file: nothing)."""
        if self.store is not None:
            self.store.save(dump(self))

    # -- accounts ----------------------------------------------------------------------
    def add_account(self, spec: AccountSpec) -> None:
        key = (spec.server, spec.login)
        self.accounts[key] = spec
        book = Book(account=spec, balance=spec.balance)
        when = self.clock.now_ms() - 86_400_000
        book.history_deals.append(
            TradeDeal(
                ticket=self.next_deal(),
                order=0,
                time=when // 1000,
                time_msc=when,
                type=DEAL_TYPE_BALANCE,
                entry=DEAL_ENTRY_IN,
                magic=0,
                position_id=0,
                reason=DEAL_REASON_CLIENT,
                volume=0.0,
                price=0.0,
                commission=0.0,
                swap=0.0,
                profit=spec.balance,
                fee=0.0,
                symbol="",
                comment="Deposit",
                external_id="",
            )
        )
        self.books[key] = book

    def resolve(self, login: int, server: str | None) -> AccountKey | None:
        """The account a login request means: the named server, else the remembered one."""
        if server is not None:
            return (server, login) if (server, login) in self.accounts else None
        matches = [key for key in self.accounts if key[1] == login]
        remembered = [key for key in matches if key in self.saved]
        candidates = remembered or matches
        return candidates[0] if candidates else None

    def current_book(self) -> Book | None:
        """The logged-in account's book, or None with last_error set."""
        if not self.ipc:
            self.last_error = ERR_NO_IPC
            return None
        if self.current is None:
            self.last_error = ERR_AUTH_FAILED
            return None
        return self.books[self.current]

    # -- tickets -----------------------------------------------------------------------
    def next_order(self) -> int:
        self._next_order += 1
        return self._next_order

    def next_deal(self) -> int:
        self._next_deal += 1
        return self._next_deal

    def next_request_id(self) -> int:
        self._next_request_id += 1
        return self._next_request_id

    def tickets(self) -> tuple[int, int, int]:
        """The last order ticket, deal ticket and request id handed out."""
        return self._next_order, self._next_deal, self._next_request_id

    def set_tickets(self, order: int, deal: int, request_id: int) -> None:
        self._next_order, self._next_deal, self._next_request_id = order, deal, request_id


def build(config: SimConfig, *, restore_saved: bool) -> Terminal:
    """The terminal for ``config``: restored from its state file when asked and one exists.

    ``restore_saved=False`` (a reset) starts fresh and overwrites the state file.
    """
    t = Terminal(config)
    store = open_state(config.state_path) if config.state_path is not None else None
    document = store.load() if store is not None and restore_saved else None
    if store is not None and document is not None:
        restore(t, document, store.path)
    for spec in config.accounts:
        if (spec.server, spec.login) not in t.books:
            t.add_account(spec)
    t.store = store
    with t.lock:
        t.persist()
    return t


_config: SimConfig | None = None
_terminal: Terminal | None = None
_global_lock = threading.Lock()


def terminal() -> Terminal:
    """The process's terminal, built from the environment on first use."""
    global _config, _terminal
    current = _terminal
    if current is not None:
        return current
    with _global_lock:
        if _terminal is None:
            if _config is None:
                _config = SimConfig.from_env()
            _terminal = build(_config, restore_saved=True)
        return _terminal


def replace(config: SimConfig | None = None, *, restore_saved: bool = False) -> Terminal:
    """Start over (same configuration unless one is given): fresh, or from the state file."""
    global _config, _terminal
    with _global_lock:
        if config is not None:
            _config = config
        elif _config is None:
            _config = SimConfig.from_env()
        old = _terminal
        if old is not None:
            with old.lock:  # calls still running on the old terminal must not write any more
                old.store = None
        _terminal = build(_config, restore_saved=restore_saved)
    if old is not None:
        old.faults.release.set()
    return _terminal
