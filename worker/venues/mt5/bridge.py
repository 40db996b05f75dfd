"""The one module that talks rpyc: an mt5linux client for one terminal, typed and timed.

* Timeouts are ours: the rpyc connection is opened with `sync_request_timeout` set to
  the worker's call timeout (mt5linux's constructor would use 300 s), and a login
  waits for the terminal's own login timeout plus a margin.
* Results are copied once: helpers installed in the terminal's Python (`remote.py`)
  answer each call as one JSON string, passed by value; we parse it into our frozen
  types. No rpyc proxy leaves this module.
* Errors are translated here. Before a request that changes something was sent, a
  failure is `VenueUnavailable` (nothing happened); once a login or an order was
  sent, a timeout or a dropped connection is `AmbiguousOutcome`. Either way the
  connection is closed: a late answer must never be read as the answer to a later call.
* A password travels as an argument of the login call and nowhere else: never in
  generated code, an exception message or a log line.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import mt5linux
import rpyc
from rpyc.core.service import ClassicClient

from switchyard.errors import AmbiguousOutcome, VenueUnavailable
from worker.venues.mt5.parsing import (
    AccountInfo,
    Deal,
    LastError,
    Order,
    Plain,
    Position,
    SendResult,
    SymbolInfo,
    Tick,
    Trail,
)
from worker.venues.mt5.remote import PRELUDE

log = logging.getLogger(__name__)

#: A login may take the terminal's own timeout plus this long to come back.
LOGIN_MARGIN_S: Final = 5.0
#: Opening the TCP connection to a bridge (rpyc's own default).
CONNECT_TIMEOUT_S: Final = 3.0

#: What a dead or misbehaving connection raises (AsyncResultTimeout is TimeoutError).
_TRANSPORT_ERRORS: Final = (EOFError, OSError, rpyc.core.async_.AsyncResultTimeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    value: Any
    last_error: LastError


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginAnswer:
    ok: bool
    error: LastError


def parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(address: str) -> bool:
    """Whether `host:port` names this machine: 127.0.0.0/8, ::1 or `localhost`.

    Any other address, and any other host name, may be reachable from elsewhere; the
    classic rpyc server behind it would run whatever its caller sends.
    """
    host = parse_address(address)[0]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it could resolve to anything
        return False


class Bridge:
    """One terminal behind mt5linux's rpyc server; not thread-safe (a lane owns it)."""

    def __init__(self, address: str, *, call_timeout_s: float, login_timeout_s: float) -> None:
        self.address = address
        self.call_timeout_s = call_timeout_s
        self.login_timeout_s = login_timeout_s
        self._conn: Any = None
        self._client: Any = None
        self._call: Callable[..., str] | None = None
        self._login: Callable[..., str] | None = None
        self._trail: Callable[..., str] | None = None

    # -- connection -------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._conn is not None

    def connect(self) -> None:
        """Open the connection, install the helpers and attach to the terminal."""
        if self._conn is not None:
            return
        host, port = parse_address(self.address)
        try:
            # Our own socket: rpyc's connect leaves its socket open when it is refused, and
            # knows IPv6 only when told. create_connection closes what it could not use.
            sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            raise VenueUnavailable(
                f"the MT5 terminal at {self.address} cannot be reached ({type(exc).__name__})"
            ) from exc
        try:
            # ClassicClient drives the terminal's classic server but exposes nothing of
            # ours: rpyc.classic.connect would let the terminal side run code in the worker.
            conn = rpyc.utils.factory.connect_stream(
                rpyc.core.stream.SocketStream(sock),
                ClassicClient,
                config={"sync_request_timeout": self.call_timeout_s},
            )
        except (*_TRANSPORT_ERRORS, rpyc.core.protocol.PingError) as exc:
            sock.close()
            raise VenueUnavailable(
                f"the MT5 terminal at {self.address} cannot be reached ({type(exc).__name__})"
            ) from exc
        try:
            # mt5linux.MetaTrader5() would open its own connection with a 300 s timeout;
            # this is its constructor with our connection (same two imports).
            client = mt5linux.MetaTrader5.__new__(mt5linux.MetaTrader5)
            client._MetaTrader5__conn = conn
            client.execute("import MetaTrader5 as mt5")
            client.execute("import datetime")
            client.execute(PRELUDE)
            self._call = client.eval("_switchyard_call")
            self._login = client.eval("_switchyard_login")
            self._trail = client.eval("_switchyard_trail")
            self._conn, self._client = conn, client
            attached = self.call("initialize")
        except _TRANSPORT_ERRORS as exc:
            self._close_quietly(conn)
            self._reset()
            raise VenueUnavailable(
                f"the MT5 terminal at {self.address} did not answer ({type(exc).__name__})"
            ) from exc
        if attached.value is not True:
            self.close()
            raise VenueUnavailable(
                f"the MT5 terminal at {self.address} refused initialize(): "
                f"{attached.last_error.message}"
            )

    def close(self) -> None:
        if self._conn is not None:
            self._close_quietly(self._conn)
        self._reset()

    def _reset(self) -> None:
        self._conn = self._client = self._call = self._login = self._trail = None

    @staticmethod
    def _close_quietly(conn: Any) -> None:
        try:
            conn.close()
        except _TRANSPORT_ERRORS:
            log.debug("closing a broken terminal connection failed; it is gone anyway")

    def _answer(self, text: str) -> Answer:
        raw = json.loads(text)
        return Answer(value=raw["value"], last_error=LastError.from_plain(raw["last_error"]))

    # -- calls ------------------------------------------------------------------------
    def call(self, name: str, *args: Any, **kwargs: Any) -> Answer:
        """A read-only call: a failure means nothing happened (VenueUnavailable)."""
        self.connect()
        assert self._call is not None
        try:
            text = self._call(name, json.dumps({"args": args, "kwargs": kwargs}))
        except Exception as exc:  # transport or a remote exception: translated here
            self.close()
            raise VenueUnavailable(
                f"the MT5 terminal at {self.address} did not answer {name}() ({type(exc).__name__})"
            ) from exc
        return self._answer(text)

    def login(self, login: int, password: str, server: str) -> LoginAnswer:
        """Log the terminal in; a timeout or a dropped connection is AmbiguousOutcome."""
        self.connect()
        assert self._login is not None
        assert self._conn is not None
        self._conn._config["sync_request_timeout"] = self.login_timeout_s + LOGIN_MARGIN_S
        try:
            text = self._login(login, password, server, int(self.login_timeout_s * 1000))
        except Exception as exc:  # noqa: BLE001 - translated; not chained (could echo args)
            self.close()
            # The type only: the message of a failed call could echo its arguments.
            raise AmbiguousOutcome(
                f"the login to {login}@{server} on {self.address} did not come back "
                f"({type(exc).__name__}); the terminal may or may not have switched"
            ) from None
        finally:
            if self._conn is not None:
                self._conn._config["sync_request_timeout"] = self.call_timeout_s
        answer = self._answer(text)
        return LoginAnswer(ok=answer.value is True, error=answer.last_error)

    def order_send(self, request: dict[str, int | float | str]) -> SendResult | None:
        """Send a trade request; None when the terminal returned nothing.

        A timeout or dropped connection is AmbiguousOutcome: the caller must look the
        client order id up before sending anything again.
        """
        self.connect()
        assert self._call is not None
        try:
            text = self._call("order_send", json.dumps({"args": [request], "kwargs": {}}))
        except Exception as exc:  # transport or a remote exception: translated here
            self.close()
            raise AmbiguousOutcome(
                f"order_send on {self.address} did not come back ({type(exc).__name__})"
            ) from exc
        answer = self._answer(text)
        if answer.value is None:
            log.warning("order_send returned nothing: %s", answer.last_error.message)
            return None
        return SendResult.from_plain(answer.value)

    # -- typed reads ------------------------------------------------------------------
    def _need(self, answer: Answer, what: str) -> Any:
        if answer.value is None:
            raise VenueUnavailable(
                f"the MT5 terminal at {self.address} could not give {what}: "
                f"{answer.last_error.message} ({answer.last_error.code})"
            )
        return answer.value

    def account_info(self) -> AccountInfo | None:
        """The logged-in account, or None when the terminal is logged in to none."""
        answer = self.call("account_info")
        return None if answer.value is None else AccountInfo.from_plain(answer.value)

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        answer = self.call("symbol_info", symbol)
        return None if answer.value is None else SymbolInfo.from_plain(answer.value)

    def tick(self, symbol: str) -> Tick | None:
        answer = self.call("symbol_info_tick", symbol)
        return None if answer.value is None else Tick.from_plain(answer.value)

    def positions(self, ticket: int | None = None) -> tuple[Position, ...]:
        kwargs = {} if ticket is None else {"ticket": ticket}
        raw = self._need(self.call("positions_get", **kwargs), "the open positions")
        return tuple(Position.from_plain(p) for p in raw)

    def orders(self, ticket: int | None = None) -> tuple[Order, ...]:
        kwargs = {} if ticket is None else {"ticket": ticket}
        raw = self._need(self.call("orders_get", **kwargs), "the pending orders")
        return tuple(Order.from_plain(o) for o in raw)

    def history_orders(self, ticket: int) -> tuple[Order, ...]:
        """The history entries of one order ticket; none when the terminal has no answer
        (a cancel reads that as "the order does not exist")."""
        raw = self.call("history_orders_get", ticket=ticket).value
        return tuple(Order.from_plain(o) for o in raw or ())

    def history_deals(self, date_from_s: int, date_to_s: int) -> tuple[Deal, ...]:
        raw = self._need(self.call("history_deals_get", date_from_s, date_to_s), "the deals")
        return tuple(Deal.from_plain(d) for d in raw)

    def trail(self, comment: str, magic: int, date_from_s: int, date_to_s: int) -> Trail:
        """Open orders, positions, history orders and deals carrying `comment` and `magic`."""
        self.connect()
        assert self._trail is not None
        try:
            text = self._trail(comment, magic, date_from_s, date_to_s)
        except Exception as exc:  # transport or a remote exception: translated here
            self.close()
            raise VenueUnavailable(
                f"the MT5 terminal at {self.address} did not answer the order look-up "
                f"({type(exc).__name__})"
            ) from exc
        raw: Plain = self._need(self._answer(text), "its orders and history")
        return Trail.from_plain(raw)
