"""The terminal's state on disk, so that a restarted simulator is a terminal reconnecting.

A real terminal that restarts comes back logged in to its last account, with the trade
server's accounts, positions, orders and history where they were and ticket numbers that
go on counting. The simulator keeps the same facts in one JSON file (``state.json`` in
its data directory), rewritten after every change that matters: a trade executed, a
login begun or finished, an account added, a reset. Each write goes to a temporary file
that is fsynced and renamed over the old one, so a simulator killed at any instant
leaves either the previous state or the new one, never half of each.

Not kept, because a real terminal does not keep them across a restart either: the IPC
attachment (clients call ``initialize()`` again), armed faults, the clock offset, pinned
prices and closed sessions (test controls). A state file that cannot be read stops the
simulator with its path: starting fresh silently would renumber tickets, which is the
very thing this file exists to prevent.

One simulator per state file: the file's directory is locked (``state.json.lock``) for
as long as the process runs.
"""

import dataclasses
import fcntl
import json
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from ._book import Book, PendingOrder, Position
from ._config import AccountSpec
from ._trade_types import TradeDeal, TradeOrder

if TYPE_CHECKING:
    from ._state import Terminal

FORMAT: Final = "switchyard-sim-mt5-state"
VERSION: Final = 1


class StateError(RuntimeError):
    """The state file exists but cannot be used; the message names it."""


class StateFile:
    """One state file, locked by this process; ``load`` and ``save`` whole documents."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock: IO[str] = path.with_name(path.name + ".lock").open("a", encoding="utf-8")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise StateError(
                f"{path} is in use by another simulated terminal: give each one its own "
                "data directory"
            ) from None

    def load(self) -> dict[str, Any] | None:
        """The saved document, or None when there is none yet."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StateError(self._unusable(f"unreadable: {exc}")) from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise StateError(self._unusable("not a simulated terminal's state file"))
        if raw.get("version") != VERSION:
            raise StateError(self._unusable(f"version {raw.get('version')!r}, not {VERSION}"))
        return raw

    def save(self, document: dict[str, Any]) -> None:
        """Replace the file atomically: temporary file, fsync, rename, fsync the directory."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _unusable(self, why: str) -> str:
        return (
            f"cannot restore the simulated terminal from {self.path} ({why}); move the file "
            "away to start a fresh terminal"
        )


_files: dict[Path, StateFile] = {}


def open_state(path: Path) -> StateFile:
    """The process's handle on ``path`` (locked once, reused by ``reset()``)."""
    key = path.resolve()
    if key not in _files:
        _files[key] = StateFile(key)
    return _files[key]


# -- the document -----------------------------------------------------------------------


def _key(server: str, login: int) -> dict[str, object]:
    return {"server": server, "login": login}


def dump(t: "Terminal") -> dict[str, Any]:
    """Everything a restart must keep, as JSON-ready data (call under ``t.lock``)."""
    order, deal, request = t.tickets()
    return {
        "format": FORMAT,
        "version": VERSION,
        "tickets": {"order": order, "deal": deal, "request_id": request},
        "current": _key(*t.current) if t.current is not None else None,
        "saved": [_key(*key) for key in sorted(t.saved)],
        "accounts": [
            {
                "spec": dataclasses.asdict(book.account),
                "balance": book.balance,
                "positions": [dataclasses.asdict(p) for p in book.positions.values()],
                "orders": [dataclasses.asdict(o) for o in book.orders.values()],
                "history_orders": [o._asdict() for o in book.history_orders],
                "history_deals": [d._asdict() for d in book.history_deals],
            }
            for book in t.books.values()
        ],
    }


def restore(t: "Terminal", document: dict[str, Any], path: Path) -> None:
    """Put a terminal built without accounts back where ``document`` left it.

    The accounts file stays authoritative for the accounts it lists (password, name,
    leverage, trading rights); their books come from the state. Accounts added at run
    time (``_sim.add_account``) come back from the state alone; accounts new in the
    accounts file start fresh. Ticket counters never go back.
    """
    configured = {(spec.server, spec.login): spec for spec in t.config.accounts}
    try:
        books = {}
        for raw in document["accounts"]:
            saved_spec = AccountSpec(**raw["spec"])
            key = (saved_spec.server, saved_spec.login)
            spec = configured.get(key, saved_spec)
            books[key] = Book(
                account=spec,
                balance=float(raw["balance"]),
                positions={p["ticket"]: Position(**p) for p in raw["positions"]},
                orders={o["ticket"]: PendingOrder(**o) for o in raw["orders"]},
                history_orders=[TradeOrder(**o) for o in raw["history_orders"]],
                history_deals=[TradeDeal(**d) for d in raw["history_deals"]],
            )
        current = document["current"]
        saved = {(k["server"], int(k["login"])) for k in document["saved"]}
        tickets = document["tickets"]
        order, deal, request = (int(tickets[n]) for n in ("order", "deal", "request_id"))
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(
            f"cannot restore the simulated terminal from {path} (malformed: {exc!r}); move "
            "the file away to start a fresh terminal"
        ) from exc
    for key, book in books.items():
        t.accounts[key] = book.account
        t.books[key] = book
    t.saved = {key for key in saved if key in t.accounts}
    login_key = (current["server"], int(current["login"])) if current else None
    t.current = login_key if login_key in t.accounts else None
    seen_orders = [0, order]
    seen_deals = [0, deal]
    for book in t.books.values():
        seen_orders += [*book.positions, *book.orders, *(o.ticket for o in book.history_orders)]
        seen_deals += [d.ticket for d in book.history_deals]
    t.set_tickets(max(seen_orders), max(seen_deals), request)
