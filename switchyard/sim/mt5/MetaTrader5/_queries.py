"""Reading the logged-in account's orders, positions and history, with the real filters."""

import calendar
import datetime as dt
from collections.abc import Callable, Iterable
from typing import TypeVar

from ._book import Book
from ._state import ERR_SUCCESS, Terminal, invalid_argument, terminal
from ._symbols import match_group
from ._trade_types import TradeDeal, TradeOrder, TradePosition

T = TypeVar("T", TradeOrder, TradePosition, TradeDeal)
H = TypeVar("H", TradeOrder, TradeDeal)


def _select(
    items: Iterable[T],
    name: Callable[[T], str],
    ticket: Callable[[T], int],
    symbol: str | None,
    group: str | None,
    ticket_filter: int | None,
) -> tuple[T, ...]:
    """symbol wins over group, group over ticket, as the real functions document."""
    if symbol is not None:
        return tuple(i for i in items if name(i) == symbol)
    if group is not None:
        return tuple(i for i in items if match_group(name(i), group))
    if ticket_filter is not None:
        return tuple(i for i in items if ticket(i) == ticket_filter)
    return tuple(items)


def _book(t: Terminal) -> Book | None:
    book = t.current_book()
    if book is not None:
        t.last_error = ERR_SUCCESS
    return book


def orders_total() -> int | None:
    t = terminal()
    with t.lock:
        book = _book(t)
        return None if book is None else len(book.orders)


def orders_get(
    symbol: str | None = None, group: str | None = None, ticket: int | None = None
) -> tuple[TradeOrder, ...] | None:
    t = terminal()
    with t.lock:
        book = _book(t)
        if book is None:
            return None
        views = [book.order_view(t.market, o) for o in book.orders.values()]
        return _select(views, lambda o: o.symbol, lambda o: o.ticket, symbol, group, ticket)


def positions_total() -> int | None:
    t = terminal()
    with t.lock:
        book = _book(t)
        return None if book is None else len(book.positions)


def positions_get(
    symbol: str | None = None, group: str | None = None, ticket: int | None = None
) -> tuple[TradePosition, ...] | None:
    t = terminal()
    with t.lock:
        book = _book(t)
        if book is None:
            return None
        views = [book.position_view(t.market, p) for p in book.positions.values()]
        return _select(views, lambda p: p.symbol, lambda p: p.ticket, symbol, group, ticket)


def _epoch_s(value: object) -> int | None:
    """A history bound: a datetime (naive means UTC) or seconds since 1970."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return calendar.timegm(value.timetuple())
        return int(value.timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return None


def _history(
    t: Terminal,
    items: Callable[[Book], list[H]],
    when: Callable[[H], int],
    by_ticket: Callable[[H], int],
    by_position: Callable[[H], int],
    args: tuple[object, ...],
    group: str | None,
    ticket: int | None,
    position: int | None,
) -> tuple[H, ...] | None:
    book = _book(t)
    if book is None:
        return None
    records = items(book)
    if ticket is not None:
        return tuple(r for r in records if by_ticket(r) == ticket)
    if position is not None:
        return tuple(r for r in records if by_position(r) == position)
    lo, hi = (_epoch_s(a) for a in args) if len(args) == 2 else (None, None)
    if lo is None or hi is None:
        t.last_error = invalid_argument("date_from" if lo is None else "date_to")
        return None
    inside = (r for r in records if lo <= when(r) <= hi)
    return tuple(r for r in inside if group is None or match_group(r.symbol, group))


def history_orders_get(
    *args: object,
    group: str | None = None,
    ticket: int | None = None,
    position: int | None = None,
) -> tuple[TradeOrder, ...] | None:
    t = terminal()
    with t.lock:
        return _history(
            t,
            lambda b: b.history_orders,
            lambda o: o.time_setup,
            lambda o: o.ticket,
            lambda o: o.position_id,
            args,
            group,
            ticket,
            position,
        )


def history_deals_get(
    *args: object,
    group: str | None = None,
    ticket: int | None = None,
    position: int | None = None,
) -> tuple[TradeDeal, ...] | None:
    t = terminal()
    with t.lock:
        return _history(
            t,
            lambda b: b.history_deals,
            lambda d: d.time,
            lambda d: d.order,
            lambda d: d.position_id,
            args,
            group,
            ticket,
            position,
        )


def history_orders_total(date_from: object, date_to: object) -> int | None:
    found = history_orders_get(date_from, date_to)
    return None if found is None else len(found)


def history_deals_total(date_from: object, date_to: object) -> int | None:
    found = history_deals_get(date_from, date_to)
    return None if found is None else len(found)
