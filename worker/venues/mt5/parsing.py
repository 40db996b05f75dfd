"""What the terminal tells us, as our own frozen values (copied out of rpyc once).

The bridge turns each answer into plain JSON on the terminal's side; `from_plain`
picks the fields the worker uses. Money and prices become Decimal here (via `str`,
so 1.1 stays 1.1), tickets become text (`VenueOrderId` and friends).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Plain = dict[str, Any]


def dec(value: Any) -> Decimal:
    """A terminal float as Decimal, through its shortest repr."""
    return Decimal(str(value))


def opt_price(value: Any) -> Decimal | None:
    """MT5 writes 0.0 for "no price" (no SL, no TP)."""
    return None if not value else dec(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class LastError:
    code: int
    message: str

    @classmethod
    def from_plain(cls, raw: Any) -> LastError:
        if isinstance(raw, list | tuple) and len(raw) == 2:
            return cls(code=int(raw[0]), message=str(raw[1]))
        return cls(code=0, message="no error information")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountInfo:
    login: int
    server: str
    currency: str
    leverage: int
    balance: Decimal
    equity: Decimal
    margin: Decimal
    margin_free: Decimal
    trade_allowed: bool
    trade_expert: bool
    trade_mode: int
    name: str

    @classmethod
    def from_plain(cls, raw: Plain) -> AccountInfo:
        return cls(
            login=int(raw["login"]),
            server=str(raw["server"]),
            currency=str(raw["currency"]),
            leverage=int(raw["leverage"]),
            balance=dec(raw["balance"]),
            equity=dec(raw["equity"]),
            margin=dec(raw["margin"]),
            margin_free=dec(raw["margin_free"]),
            trade_allowed=bool(raw["trade_allowed"]),
            trade_expert=bool(raw["trade_expert"]),
            trade_mode=int(raw["trade_mode"]),
            name=str(raw["name"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolInfo:
    name: str
    filling_mode: int
    digits: int
    bid: Decimal
    ask: Decimal
    volume_min: Decimal
    volume_max: Decimal
    volume_step: Decimal
    contract_size: Decimal
    #: Account currency per `tick_size` of price move on one lot.
    tick_value: Decimal
    tick_size: Decimal

    @classmethod
    def from_plain(cls, raw: Plain) -> SymbolInfo:
        return cls(
            name=str(raw["name"]),
            filling_mode=int(raw["filling_mode"]),
            digits=int(raw["digits"]),
            bid=dec(raw["bid"]),
            ask=dec(raw["ask"]),
            volume_min=dec(raw["volume_min"]),
            volume_max=dec(raw["volume_max"]),
            volume_step=dec(raw["volume_step"]),
            contract_size=dec(raw["trade_contract_size"]),
            tick_value=dec(raw["trade_tick_value"]),
            tick_size=dec(raw["trade_tick_size"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    bid: Decimal
    ask: Decimal
    time: int

    @classmethod
    def from_plain(cls, raw: Plain) -> Tick:
        return cls(bid=dec(raw["bid"]), ask=dec(raw["ask"]), time=int(raw["time"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    ticket: str
    symbol: str
    type: int
    volume: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None
    profit: Decimal
    magic: int
    comment: str
    time: int

    @classmethod
    def from_plain(cls, raw: Plain) -> Position:
        return cls(
            ticket=str(raw["ticket"]),
            symbol=str(raw["symbol"]),
            type=int(raw["type"]),
            volume=dec(raw["volume"]),
            price_open=dec(raw["price_open"]),
            sl=opt_price(raw["sl"]),
            tp=opt_price(raw["tp"]),
            profit=dec(raw["profit"]),
            magic=int(raw["magic"]),
            comment=str(raw["comment"]),
            time=int(raw["time"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """An open pending order, or one from the history (`state` says which)."""

    ticket: str
    symbol: str
    type: int
    state: int
    volume_initial: Decimal
    volume_current: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None
    magic: int
    comment: str
    position_id: str

    @classmethod
    def from_plain(cls, raw: Plain) -> Order:
        return cls(
            ticket=str(raw["ticket"]),
            symbol=str(raw["symbol"]),
            type=int(raw["type"]),
            state=int(raw["state"]),
            volume_initial=dec(raw["volume_initial"]),
            volume_current=dec(raw["volume_current"]),
            price_open=dec(raw["price_open"]),
            sl=opt_price(raw["sl"]),
            tp=opt_price(raw["tp"]),
            magic=int(raw["magic"]),
            comment=str(raw["comment"]),
            position_id=str(raw["position_id"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Deal:
    ticket: str
    order: str
    position_id: str
    time: int
    type: int
    entry: int
    magic: int
    volume: Decimal
    price: Decimal
    profit: Decimal
    commission: Decimal
    swap: Decimal
    fee: Decimal
    symbol: str
    comment: str

    @classmethod
    def from_plain(cls, raw: Plain) -> Deal:
        return cls(
            ticket=str(raw["ticket"]),
            order=str(raw["order"]),
            position_id=str(raw["position_id"]),
            time=int(raw["time"]),
            type=int(raw["type"]),
            entry=int(raw["entry"]),
            magic=int(raw["magic"]),
            volume=dec(raw["volume"]),
            price=dec(raw["price"]),
            profit=dec(raw["profit"]),
            commission=dec(raw["commission"]),
            swap=dec(raw["swap"]),
            fee=dec(raw["fee"]),
            symbol=str(raw["symbol"]),
            comment=str(raw["comment"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    retcode: int
    deal: str | None
    order: str | None
    volume: Decimal
    price: Decimal
    comment: str

    @classmethod
    def from_plain(cls, raw: Plain) -> SendResult:
        return cls(
            retcode=int(raw["retcode"]),
            deal=str(raw["deal"]) if raw["deal"] else None,
            order=str(raw["order"]) if raw["order"] else None,
            volume=dec(raw["volume"]),
            price=dec(raw["price"]),
            comment=str(raw["comment"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Trail:
    """Everything the terminal holds that carries one client order id (our comment)."""

    orders: tuple[Order, ...]
    positions: tuple[Position, ...]
    history_orders: tuple[Order, ...]
    deals: tuple[Deal, ...]

    @classmethod
    def from_plain(cls, raw: Plain) -> Trail:
        return cls(
            orders=tuple(Order.from_plain(o) for o in raw["orders"]),
            positions=tuple(Position.from_plain(p) for p in raw["positions"]),
            history_orders=tuple(Order.from_plain(o) for o in raw["history_orders"]),
            deals=tuple(Deal.from_plain(d) for d in raw["deals"]),
        )

    @property
    def empty(self) -> bool:
        return not (self.orders or self.positions or self.history_orders or self.deals)
