"""Fault switches: ways for a test to make the terminal misbehave on purpose.

All counters are consumed under the terminal lock, so concurrent clients (one rpyc
thread each) see each armed fault exactly once.
"""

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: The thread-local hook that drops the rpyc connection served by the current thread.
_dropper = threading.local()


def bind_connection_dropper(drop: Callable[[], None] | None) -> None:
    """Register how to cut the connection the calling thread serves (done by the server)."""
    _dropper.drop = drop


def drop_current_connection() -> None:
    drop: Callable[[], None] | None = getattr(_dropper, "drop", None)
    if drop is None:
        raise ConnectionAbortedError("simulated connection drop (no rpyc connection bound)")
    drop()


@dataclass
class Faults:
    #: The next N logins fail with "Authorization failed", whatever the credentials.
    fail_next_logins: int = 0
    #: Logins that always fail with "Authorization failed" until reset.
    fail_logins: frozenset[int] = frozenset()
    #: The next login blocks this many seconds (ignoring its timeout), then proceeds.
    hang_next_login_s: float = 0.0
    #: The next N logins with valid credentials report success, but the terminal stays on
    #: the account it was on (on none: it lands on another account of the same server).
    wrong_account_next_logins: int = 0
    #: The next N order_send calls are processed, then return None (IPC timeout).
    lose_next_send_results: int = 0
    #: The next N order_send calls are processed, then the connection is cut before replying.
    drop_after_next_sends: int = 0
    #: Retcodes returned, one per order_send, instead of executing (e.g. 10004, 10031).
    next_send_retcodes: tuple[int, ...] = ()
    #: The terminal's "Algo Trading" button is off: order_send answers 10027.
    autotrading_disabled: bool = False
    #: Set by reset() to wake a hung login.
    release: threading.Event = field(default_factory=threading.Event, repr=False)

    def update(self, **changes: object) -> None:
        """Arm faults by name; unknown names raise TypeError."""
        for name, value in changes.items():
            if name not in _SETTERS:
                raise TypeError(f"unknown fault {name!r}; known: {sorted(_SETTERS)}")
            setattr(self, name, _SETTERS[name](value))

    def take_login_failure(self, login: int) -> bool:
        if login in self.fail_logins:
            return True
        if self.fail_next_logins > 0:
            self.fail_next_logins -= 1
            return True
        return False

    def take_wrong_account(self) -> bool:
        if self.wrong_account_next_logins > 0:
            self.wrong_account_next_logins -= 1
            return True
        return False

    def take_hang(self) -> float:
        hang, self.hang_next_login_s = self.hang_next_login_s, 0.0
        return hang

    def take_retcode(self) -> int | None:
        if not self.next_send_retcodes:
            return None
        code, *rest = self.next_send_retcodes
        self.next_send_retcodes = tuple(rest)
        return code

    def take_lose_result(self) -> bool:
        if self.lose_next_send_results > 0:
            self.lose_next_send_results -= 1
            return True
        return False

    def take_drop(self) -> bool:
        if self.drop_after_next_sends > 0:
            self.drop_after_next_sends -= 1
            return True
        return False

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {name: getattr(self, name) for name in _SETTERS}
        data["fail_logins"] = sorted(self.fail_logins)
        data["next_send_retcodes"] = list(self.next_send_retcodes)
        return data


def _ints(value: object) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,)
    if not isinstance(value, Iterable):
        raise TypeError(f"expected an int or a sequence of ints, got {value!r}")
    return tuple(int(v) for v in value)


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"expected a count (int >= 0), got {value!r}")
    return value


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TypeError(f"expected seconds (>= 0), got {value!r}")
    return float(value)


_SETTERS: dict[str, Callable[[object], object]] = {
    "fail_next_logins": _count,
    "fail_logins": lambda v: frozenset(_ints(v)),
    "hang_next_login_s": _seconds,
    "wrong_account_next_logins": _count,
    "lose_next_send_results": _count,
    "drop_after_next_sends": _count,
    "next_send_retcodes": _ints,
    "autotrading_disabled": bool,
}
