"""MetaTrader 5 behind `worker.venue`: one terminal as a `VenueAdapter`.

`on_account` is the terminal session's critical section (lock, terminal lease, login
when needed, `account_info()` login and server checked); the session it yields turns the
flow's requests into MT5 trade requests (`requests`), their answers into the flow's
verdicts (`retcodes`) and the terminal's records into reports (`reports`). Our client
order id travels in the request's comment with our magic number, so that a look-up after
doubt finds exactly our orders.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from switchyard.domain import (
    ClientOrderId,
    ErrorCode,
    OrderPayload,
    VenueOrderId,
    VenuePositionId,
)
from switchyard.errors import AmbiguousOutcome, WrongAccount
from worker.venue import (
    Account,
    AccountReport,
    AccountState,
    Action,
    Ambiguous,
    Done,
    Execution,
    FillReport,
    OrderStatusReport,
    PositionReport,
    Prepared,
    Refusal,
    Rejected,
    Submitted,
    SymbolSpec,
)
from worker.venues.mt5 import reports, requests, retcodes
from worker.venues.mt5.bridge import Bridge
from worker.venues.mt5.constants import TRADE_ACTION_DEAL
from worker.venues.mt5.parsing import AccountInfo
from worker.venues.mt5.terminal import TerminalSession

#: Why an MT5 order cannot ask for a leverage (prepare_order refuses it, nothing is sent).
NO_LEVERAGE: Final = (
    "an MT5 order takes no leverage: the leverage is the account's, set at the broker "
    "(see the account's leverage in GET /v1/accounts); leave leverage out"
)

#: History is kept in the trade server's time zone: read this far around our clock.
HISTORY_SLACK_S: Final = 2 * 86_400


class Mt5Session:
    """The terminal, verified to be on the job's account (inside the critical section)."""

    #: One history call covers every symbol.
    fills_by_market = False

    def __init__(self, bridge: Bridge, info: AccountInfo, *, magic: int) -> None:
        self.bridge = bridge
        self.magic = magic
        self._account = reports.account_report(info)

    @property
    def account(self) -> AccountReport:
        return self._account

    # -- requests ---------------------------------------------------------------------
    def prepare_order(self, payload: OrderPayload, coid: ClientOrderId) -> Prepared | Refusal:
        if payload.leverage is not None:
            return Refusal(code=ErrorCode.INVALID_REQUEST, message=NO_LEVERAGE)
        symbol = self.bridge.symbol_info(payload.symbol)
        tick = self.bridge.tick(payload.symbol)
        if symbol is None or tick is None:
            return Refusal(
                code=ErrorCode.INVALID_REQUEST,
                message=f"the symbol {payload.symbol} is not known to this account's server",
            )
        request = requests.open_request(payload, symbol, tick, self.magic, coid)
        return Prepared(
            client_order_id=coid,
            action="open",
            symbol=payload.symbol,
            side=payload.side.value,
            order_type=payload.type.value,
            volume=payload.volume,
            price=payload.price if payload.price is not None else Decimal(str(request["price"])),
            sl=payload.sl,
            tp=payload.tp,
            done="filled" if request["action"] == TRADE_ACTION_DEAL else "placed",
            request=request,
        )

    def prepare_close(
        self, position: PositionReport, volume: Decimal, deviation: int, coid: ClientOrderId
    ) -> Prepared | Refusal:
        symbol = self.bridge.symbol_info(position.symbol)
        tick = self.bridge.tick(position.symbol)
        if symbol is None or tick is None:
            return Refusal(
                code=ErrorCode.MARKET_CLOSED, message=f"no quote for {position.symbol} right now"
            )
        request = requests.close_request(
            position, volume, symbol, tick, deviation, self.magic, coid
        )
        return Prepared(
            client_order_id=coid,
            action="close",
            symbol=position.symbol,
            side="sell" if request["type"] == 1 else "buy",
            order_type="market",
            volume=volume,
            price=Decimal(str(request["price"])),
            target=position.venue_position_id,
            done="closed",
            request=request,
        )

    def prepare_modify_position(
        self,
        position: PositionReport,
        sl: Decimal | None,
        tp: Decimal | None,
        coid: ClientOrderId,
    ) -> Prepared | Refusal:
        return Prepared(
            client_order_id=coid,
            action="modify",
            symbol=position.symbol,
            sl=sl,
            tp=tp,
            target=position.venue_position_id,
            done="modified",
            request=requests.sltp_request(position, sl, tp, self.magic, coid),
        )

    def prepare_modify_order(
        self,
        order: OrderStatusReport,
        price: Decimal | None,
        sl: Decimal | None,
        tp: Decimal | None,
        coid: ClientOrderId,
    ) -> Prepared | Refusal:
        at = price if price is not None else order.price
        if at is None:
            return Refusal(code=ErrorCode.INVALID_REQUEST, message="a pending order needs a price")
        return Prepared(
            client_order_id=coid,
            action="modify",
            symbol=order.symbol,
            price=at,
            sl=sl,
            tp=tp,
            target=order.venue_order_id,
            done="modified",
            request=requests.modify_order_request(order, at, sl, tp, self.magic, coid),
        )

    def prepare_cancel(self, order: OrderStatusReport, coid: ClientOrderId) -> Prepared | Refusal:
        return Prepared(
            client_order_id=coid,
            action="cancel",
            symbol=order.symbol,
            volume=order.leaves,
            price=order.price,
            target=order.venue_order_id,
            done="cancelled",
            request=requests.remove_request(order, self.magic, coid),
        )

    def apply_leverage(self, prepared: Prepared) -> Rejected | None:
        """Never reached: an MT5 request carries no leverage (prepare_order refuses it)."""
        return Rejected(code=ErrorCode.INVALID_REQUEST, message=f"not sent: {NO_LEVERAGE}")

    def submit(self, prepared: Prepared) -> Submitted:
        try:
            result = self.bridge.order_send(dict(prepared.request))
        except AmbiguousOutcome as exc:
            return Ambiguous(code=ErrorCode.VENUE_UNAVAILABLE, message=str(exc))
        if result is None:
            return Ambiguous(
                code=ErrorCode.VENUE_UNAVAILABLE,
                message="the terminal returned no result for the order",
                reason="order_send returned nothing",
            )
        if result.retcode in retcodes.DONE_RETCODES:
            return Done(execution=reports.execution(prepared, result))
        return retcodes.verdict(result.retcode, result.comment)

    def find(
        self,
        coid: ClientOrderId,
        *,
        since: datetime,
        action: Action,
        symbol: str | None = None,
        position: VenuePositionId | None = None,
    ) -> Execution | None:
        # The terminal's history is searched by our comment and magic, whatever the symbol.
        if action not in ("open", "close"):
            raise ValueError(f"an MT5 {action} is judged by the state it aims for, not looked up")
        now = int(time.time())
        trail = self.bridge.trail(
            coid, self.magic, int(since.timestamp()) - HISTORY_SLACK_S, now + HISTORY_SLACK_S
        )
        return reports.settle_close(trail) if action == "close" else reports.settle_open(trail)

    # -- reports ----------------------------------------------------------------------
    def symbol_spec(self, symbol: str) -> SymbolSpec | Refusal:
        info = self.bridge.symbol_info(symbol)
        tick = self.bridge.tick(symbol)
        if info is None or tick is None:
            return Refusal(
                code=ErrorCode.INVALID_REQUEST,
                message=f"the symbol {symbol} is not known to this account's server",
            )
        return reports.symbol_spec(info, tick)

    def positions(self) -> tuple[PositionReport, ...]:
        return tuple(reports.position_report(p) for p in self.bridge.positions())

    def position(self, venue_position_id: VenuePositionId) -> PositionReport | None:
        found = self.bridge.positions(ticket=int(venue_position_id))
        return reports.position_report(found[0]) if found else None

    def open_orders(self) -> tuple[OrderStatusReport, ...]:
        return tuple(reports.open_order_report(o) for o in self.bridge.orders())

    def order(self, venue_order_id: VenueOrderId) -> OrderStatusReport | None:
        ticket = int(venue_order_id)
        found = self.bridge.orders(ticket=ticket)
        if found:
            return reports.open_order_report(found[0])
        return reports.history_order_report(self.bridge.history_orders(ticket))

    def fills(
        self, since: datetime, *, traded: frozenset[str] = frozenset()
    ) -> tuple[FillReport, ...]:
        date_from = int((since - timedelta(seconds=HISTORY_SLACK_S)).timestamp())
        date_to = int(time.time()) + HISTORY_SLACK_S
        return tuple(reports.fill_report(d) for d in self.bridge.history_deals(date_from, date_to))

    def refresh(self) -> AccountState:
        """`account_info()` on both sides of `positions_get()`: the positions are the
        session's account's, never another login's that the terminal switched to."""
        self._still_on_account()
        positions = self.positions()
        info = self._still_on_account()
        return AccountState(account=reports.account_report(info), positions=positions)

    def _still_on_account(self) -> AccountInfo:
        info = self.bridge.account_info()
        expected = (self._account.login, self._account.server)
        if info is None or (str(info.login), info.server) != expected:
            raise WrongAccount(
                f"the terminal is no longer on account {expected[0]}@{expected[1]}: "
                "its positions were not read"
            )
        return info


class Mt5Venue:
    """One MT5 terminal (its bridge and session), driven by one lane."""

    noun = "the terminal"

    def __init__(self, terminal: TerminalSession, *, magic: int, call_timeout_s: float) -> None:
        self.terminal = terminal
        self.magic = magic
        self.call_timeout_s = call_timeout_s

    def parse_id(self, text: str, what: str) -> str | Refusal:
        if not text.isdigit():
            return Refusal(
                code=ErrorCode.INVALID_REQUEST,
                message=f"{what} {text!r} is not an MT5 ticket number",
            )
        return str(int(text))

    @contextmanager
    def on_account(self, account: Account, *, verify: bool = False) -> Iterator[Mt5Session]:
        with self.terminal.critical(account, verify=verify) as info:
            yield Mt5Session(self.terminal.bridge, info, magic=self.magic)
