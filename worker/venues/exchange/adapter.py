"""Crypto exchanges behind `worker.venue`, through ccxt.async_support.

`ExchangeVenue.on_account` takes the account's client (`clients`), holds its lock (one
lane at a time per account) and, for a verification, asks the exchange for the balance
and the key's permissions, refusing a key that may withdraw. The session it yields turns
the flow's requests into ccxt requests (`tickets`), runs them on the shared loop
(`calls`), and turns their answers and errors into the seam's reports and verdicts
(`reports`, `errors`). What differs per exchange is its `Profile` (`exchanges/`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

from switchyard.domain import (
    ClientOrderId,
    ErrorCode,
    OrderPayload,
    VenueOrderId,
    VenuePositionId,
)
from switchyard.errors import CredentialsRejected, VenueUnavailable
from worker.venue import (
    Account,
    AccountReport,
    AccountState,
    Action,
    Ambiguous,
    Done,
    Execution,
    OrderStatusReport,
    PositionReport,
    Prepared,
    Price,
    Refusal,
    Rejected,
    Submitted,
    SymbolSpec,
)
from worker.venues.exchange import reports, tickets
from worker.venues.exchange.calls import LOOP_MARGIN_S, Calls
from worker.venues.exchange.clients import Client, Clients
from worker.venues.exchange.exchanges import PROFILES
from worker.venues.exchange.loop import CallTimedOutError
from worker.venues.exchange.profile import StopsChange, Unified
from worker.venues.exchange.readings import Readings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What an id of ours may contain (the API's ticket pattern, before any session).
_ORDER_ID: Final = re.compile(r"[A-Za-z0-9-]{1,64}_[a-z]+-[A-Za-z0-9-]{1,40}")
_POSITION_ID: Final = re.compile(r"[a-z]+-[A-Za-z0-9-]{1,40}")


class ExchangeSession(Readings):
    """One exchange account's client, held by one lane (its lock is taken)."""

    def __init__(self, venue: ExchangeVenue, client: Client) -> None:
        self.venue = venue
        self.client = client
        self.profile = client.profile
        self.exchange = client.exchange
        self.noun = client.profile.noun
        self.calls = Calls(client, venue.clients.loop, request_timeout_s=venue.request_timeout_s)
        self._account: AccountReport | None = None

    def read(self, call: Callable[[], Awaitable[T]], *, requests: int = 1) -> T:
        return self.calls.read(call, requests=requests)

    def lookup(self, call: Callable[[], Awaitable[T | None]]) -> T | None:
        return self.calls.lookup(call)

    # -- entering ---------------------------------------------------------------------
    def enter(self, *, verify: bool) -> None:
        self.read(lambda: self.venue.clients.markets(self.client))
        if verify:
            self._account = self._verify()

    def _verify(self) -> AccountReport:
        balance = self.read(self.exchange.fetch_balance)
        found = self.read(
            lambda: self.profile.read_permissions(self.exchange, self.client.environment)
        )
        if found.get("known") and found.get("withdraw") and not self.venue.allow_withdraw:
            raise CredentialsRejected(
                f"this {self.noun} API key may withdraw funds, and switchyard accepts only "
                f"keys that cannot. {self.profile.trade_only_help}, then connect that key"
            )
        self.client.permissions = found
        return reports.account_report(balance, found, self.profile.quote)

    @property
    def account(self) -> AccountReport:
        if self._account is None:
            balance = self.read(self.exchange.fetch_balance)
            self._account = reports.account_report(
                balance, self.client.permissions or {}, self.profile.quote
            )
        return self._account

    # -- markets ----------------------------------------------------------------------
    def _market(self, symbol: str) -> Unified | None:
        markets = self.exchange.markets or {}
        found: Unified | None = markets.get(symbol)
        return found

    def _by_key(self, key: str) -> Unified | None:
        found: Unified | None = self.venue.clients.by_key(self.client).get(key)
        return found

    def _may_trade(self) -> Refusal | None:
        if self.client.permissions is None:
            self.client.permissions = self.read(
                lambda: self.profile.read_permissions(self.exchange, self.client.environment)
            )
        granted = self.client.permissions
        if granted.get("known") and not granted.get("trade"):
            return Refusal(
                code=ErrorCode.TRADE_DISABLED,
                message=f"this {self.noun} API key is read-only: it may not trade",
            )
        return None

    # -- requests ---------------------------------------------------------------------
    def prepare_order(self, payload: OrderPayload, coid: ClientOrderId) -> Prepared | Refusal:
        market = self._market(payload.symbol)
        if market is None:
            return Refusal(
                code=ErrorCode.INVALID_REQUEST,
                message=f"{payload.symbol} is not a {self.noun} market switchyard trades "
                "(ccxt's unified form: BTC/USDT for spot, BTC/USDT:USDT for a USDT perpetual)",
            )
        if (refusal := tickets.unsupported(payload) or self._may_trade()) is not None:
            return refusal
        reference = None
        if tickets.needs_reference(market, payload, self.profile):
            ticker = self.read(lambda: self.exchange.fetch_ticker(market["symbol"]))
            reference = tickets.reference_price(ticker)
        return tickets.open_order(market, payload, coid, self.profile, reference)

    def prepare_close(
        self, position: PositionReport, volume: Decimal, deviation: int, coid: ClientOrderId
    ) -> Prepared | Refusal:
        market = self._by_key(position.venue_position_id)
        if market is None:
            return Refusal(
                code=ErrorCode.INVALID_REQUEST,
                message=f"{position.venue_position_id} is not a perpetual market",
            )
        return tickets.close_position(market, position, volume, coid, self.profile)

    def prepare_modify_position(
        self, position: PositionReport, sl: Price, tp: Price, coid: ClientOrderId
    ) -> Prepared | Refusal:
        market = self._by_key(position.venue_position_id)
        if market is None:
            return Refusal(
                code=ErrorCode.INVALID_REQUEST,
                message=f"{position.venue_position_id} is not a perpetual market",
            )
        if (refusal := self._may_trade()) is not None:
            return refusal
        reference = None
        if tickets.takes_stops(market, self.profile) and self.profile.set_position_stops:
            ticker = self.read(lambda: self.exchange.fetch_ticker(market["symbol"]))
            reference = tickets.reference_price(ticker)
        return tickets.modify_position(market, position, (sl, tp), coid, self.profile, reference)

    def prepare_modify_order(
        self, order: OrderStatusReport, price: Price, sl: Price, tp: Price, coid: ClientOrderId
    ) -> Prepared | Refusal:
        return Refusal(
            code=ErrorCode.INVALID_REQUEST,
            message="exchange orders cannot be modified: cancel it and place a new one",
        )

    def prepare_cancel(self, order: OrderStatusReport, coid: ClientOrderId) -> Prepared | Refusal:
        return tickets.cancel(order, coid)

    def apply_leverage(self, prepared: Prepared) -> Rejected | None:
        """ccxt's set_leverage for the perpetual, before its order (`tickets` refused the
        leverage on spot and where the profile cannot set it)."""
        setter, leverage = self.profile.set_leverage, prepared.leverage
        if setter is None or leverage is None:  # tickets never prepares such a request
            return Rejected(
                code=ErrorCode.INTERNAL,
                message=f"not sent: no leverage to set on {self.noun} for {prepared.symbol}",
            )
        what = f"the leverage of {prepared.symbol} could not be set to {leverage}"
        refused = self.calls.setting(lambda: setter(self.exchange, leverage, prepared.symbol), what)
        if refused is None:
            log.info("%s: %s leverage set to %d", self.noun, prepared.symbol, leverage)
        return refused

    def submit(self, prepared: Prepared) -> Submitted:
        request = prepared.request
        if "stops" in request:
            return self._set_stops(prepared)
        if "cancel" in request:
            call: Callable[[], Awaitable[Unified]] = lambda: self.exchange.cancel_order(  # noqa: E731
                request["cancel"], request["symbol"]
            )
        else:
            call = lambda: self.exchange.create_order(  # noqa: E731
                request["symbol"],
                request["type"],
                request["side"],
                request["amount"],
                request["price"],
                dict(request["params"]),
            )
        sent = self.calls.send(call)
        if isinstance(sent, (Rejected, Ambiguous)):
            return sent
        order = sent
        market = self._market(request["symbol"])
        assert market is not None
        if "cancel" in request:
            execution = Execution(
                status="cancelled", venue_order_id=VenueOrderId(prepared.target or "")
            )
            return Done(execution=execution)
        unknown = order.get("status") is None and self.profile.read_after_create
        if (prepared.order_type == "market" and order.get("status") != "closed") or unknown:
            order = self._completed(order, market)
        return Done(execution=reports.execution(order, market, prepared.done))

    def _set_stops(self, prepared: Prepared) -> Submitted:
        setter, stops = self.profile.set_position_stops, prepared.request["stops"]
        if setter is None:  # tickets never prepares such a request
            return Rejected(code=ErrorCode.INTERNAL, message="not sent: no way to set stops")
        change = StopsChange(
            symbol=prepared.request["symbol"],
            side=stops["side"],
            sl=stops["sl"],
            tp=stops["tp"],
            client_id=stops["client_id"],
        )
        sent = self.calls.send(lambda: setter(self.exchange, change))
        if isinstance(sent, (Rejected, Ambiguous)):
            return sent
        position = VenuePositionId(prepared.target or "")
        return Done(execution=Execution(status="modified", venue_position_id=position))

    def _completed(self, order: Unified, market: Unified) -> Unified:
        """An order as the exchange reports it once placed (Bybit, OKX and Coinbase answer a
        create with ids only); best effort: the order is done either way."""
        try:
            found = self.lookup(
                lambda: self.profile.fetch_order(self.exchange, order["id"], market["symbol"])
            )
        except (VenueUnavailable, CredentialsRejected) as exc:
            log.info("%s: order %s placed; its fill not read (%s)", self.noun, order["id"], exc)
            return order
        return {**order, **found} if found else order

    def find(
        self,
        coid: ClientOrderId,
        *,
        since: datetime,
        action: Action,
        symbol: str | None = None,
        position: VenuePositionId | None = None,
    ) -> Execution | None:
        if action not in ("open", "close"):
            raise ValueError(f"an exchange {action} is judged by the state it aims for")
        market = self._market(symbol) if symbol else self._by_key(position) if position else None
        if market is None:
            if symbol is None and position is None:
                raise ValueError("an exchange order is looked up in its market: none given")
            return None  # not a market we trade: it cannot have been placed
        client_id = self.profile.client_ids.of(coid)
        order = self.lookup(
            lambda: self.profile.find_by_client_id(self.exchange, market["symbol"], client_id)
        )
        if order is None or order.get("status") == "rejected":
            return None
        if action == "close":
            done: Any = "closed"
        elif order.get("status") == "closed" or (reports.dec(order.get("filled")) or 0) > 0:
            done = "filled"
        else:
            done = "placed"
        return reports.execution(order, market, done)

    def symbol_spec(self, symbol: str) -> SymbolSpec | Refusal:
        market = self._market(symbol)
        if market is None:
            return Refusal(
                code=ErrorCode.INVALID_REQUEST,
                message=f"{symbol} is not a {self.noun} market switchyard trades",
            )
        ticker: Unified = self.read(lambda: self.exchange.fetch_ticker(market["symbol"]))
        return reports.symbol_spec(market, ticker, stops=tickets.takes_stops(market, self.profile))

    # -- reports ----------------------------------------------------------------------
    def refresh(self) -> AccountState:
        """The balance and every open position read again now (after a trade): the
        session's own keys sign both calls, so they can only be this account's."""
        balance = self.read(self.exchange.fetch_balance)
        self._account = reports.account_report(
            balance, self.client.permissions or {}, self.profile.quote
        )
        return AccountState(account=self._account, positions=self.positions())


class ExchangeVenue:
    """Every exchange account this worker serves, on one loop and one client cache."""

    noun = "the exchange"

    def __init__(self, clients: Clients, *, request_timeout_s: float, allow_withdraw: bool) -> None:
        self.clients = clients
        self.request_timeout_s = request_timeout_s
        self.allow_withdraw = allow_withdraw

    @property
    def call_timeout_s(self) -> float:
        """The longest a send waits: one request, and the loop's margin."""
        return self.request_timeout_s + LOOP_MARGIN_S

    def parse_id(self, text: str, what: str) -> str | Refusal:
        pattern = _POSITION_ID if what == "position" else _ORDER_ID
        if not pattern.fullmatch(text):
            example = "swap-BTCUSDT" if what == "position" else "123456_spot-BTCUSDT"
            return Refusal(
                code=ErrorCode.INVALID_REQUEST,
                message=f"{what} {text!r} is not an exchange {what} id of switchyard's "
                f"(like {example!r}, as trades and syncs report them)",
            )
        return text

    @contextmanager
    def on_account(self, account: Account, *, verify: bool = False) -> Iterator[ExchangeSession]:
        profile = PROFILES.get(account.venue)
        if profile is None:
            raise VenueUnavailable(f"{account.venue} accounts are not served by this worker")
        try:
            client = self.clients.client(account, profile)
        except CallTimedOutError as exc:
            raise VenueUnavailable(
                f"{profile.noun}: the session could not be made ({exc})"
            ) from None
        with client.lock:
            session = ExchangeSession(self, client)
            try:
                session.enter(verify=verify)
            except CredentialsRejected:
                self.clients.drop(account.id)  # a refused key is not kept in memory
                raise
            yield session
