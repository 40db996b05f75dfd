"""What an exchange account holds and did, read through ccxt as the seam's reports:
open positions (with their stops), open and past orders, fills.

`Readings` is the read side of `adapter.ExchangeSession`, which gives it the session's
calls (`read`, `lookup`), its exchange and profile, and the market look-ups.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final, TypeVar

from switchyard.domain import VenueOrderId, VenuePositionId
from worker.venue import AccountReport, FillReport, OrderStatusReport, PositionReport
from worker.venues.exchange import reports
from worker.venues.exchange.profile import Ccxt, Profile, Unified

T = TypeVar("T")

#: Fills are read from this much before the last one we have (clocks, late reports).
FILL_SLACK: Final = timedelta(minutes=5)


class Readings:
    """The reports of one session's account (mixed into `ExchangeSession`)."""

    exchange: Ccxt
    profile: Profile

    def read(self, call: Callable[[], Awaitable[T]], *, requests: int = 1) -> T:
        raise NotImplementedError

    def lookup(self, call: Callable[[], Awaitable[T | None]]) -> T | None:
        raise NotImplementedError

    def _market(self, symbol: str) -> Unified | None:
        raise NotImplementedError

    @property
    def fills_by_market(self) -> bool:
        """Binance: fills per market (no scopes to read them across markets)."""
        return self.profile.scopes is None

    def _by_key(self, key: str) -> Unified | None:
        raise NotImplementedError

    @property
    def account(self) -> AccountReport:
        raise NotImplementedError

    def _contract_scopes(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.profile.scopes or () if s.get("type") != "spot"]

    def _stops(self, raws: list[Unified]) -> dict[str, tuple[Any, Any]]:
        """Each position's (sl, tp) where the unified position lacks them (OKX), read only
        when a position is open."""
        reader = self.profile.position_stops
        if reader is None or not any(raw.get("contracts") for raw in raws):
            return {}
        return dict(self.read(lambda: reader(self.exchange)))

    def _reported(self, raws: list[Unified], symbol: str | None = None) -> list[PositionReport]:
        stops = self._stops(raws)
        found = []
        for raw in raws:
            market = self._market(raw.get("symbol", ""))
            if market is None or symbol not in (None, market["symbol"]):
                continue
            if report := reports.position_report(raw, market, stops.get(market["symbol"])):
                found.append(report)
        return found

    def positions(self) -> tuple[PositionReport, ...]:
        found: list[PositionReport] = []
        for scope in self._contract_scopes():
            found += self._reported(self.read(partial(self.exchange.fetch_positions, None, scope)))
        return tuple(found)

    def position(self, venue_position_id: VenuePositionId) -> PositionReport | None:
        market = self._by_key(venue_position_id)
        if market is None or not market.get("contract"):
            return None
        symbol = market["symbol"]
        found = self._reported(self.read(lambda: self.exchange.fetch_positions([symbol])), symbol)
        return found[0] if found else None

    def _orders(self, raw: list[Unified]) -> list[OrderStatusReport]:
        out = []
        for order in raw:
            market = self._market(order.get("symbol", ""))
            if market is not None:
                out.append(reports.order_report(order, market))
        return out

    @staticmethod
    def _once(reports_: list[Any], key: Callable[[Any], str]) -> tuple[Any, ...]:
        """Each report once (a scope may answer with another scope's records too)."""
        return tuple({key(r): r for r in reports_}.values())

    def open_orders(self) -> tuple[OrderStatusReport, ...]:
        if self.profile.scopes is None:
            return tuple(self._orders(self.read(lambda: self.exchange.fetch_open_orders())))
        found: list[OrderStatusReport] = []
        for scope in self.profile.scopes:
            raw = self.read(partial(self.exchange.fetch_open_orders, None, None, None, dict(scope)))
            found += self._orders(raw)
        return self._once(found, lambda o: o.venue_order_id)

    def order(self, venue_order_id: VenueOrderId) -> OrderStatusReport | None:
        parts = reports.split_order_id(venue_order_id)
        market = self._by_key(parts[1]) if parts else None
        if parts is None or market is None:
            return None
        found = self.lookup(
            lambda: self.profile.fetch_order(self.exchange, parts[0], market["symbol"])
        )
        return reports.order_report(found, market) if found else None

    def fills(
        self, since: datetime, *, traded: frozenset[str] = frozenset()
    ) -> tuple[FillReport, ...]:
        since_ms = int((since - FILL_SLACK).timestamp() * 1000)
        trades: list[Unified] = []
        if self.profile.scopes is None:
            # Per market (Binance): the spot markets of every asset the account holds, and
            # those our orders traded (an asset sold out holds nothing any more).
            held = set(self.account.assets)
            for market in (self.exchange.markets or {}).values():
                if market.get("spot") and (
                    market.get("base") in held or market["symbol"] in traded
                ):
                    symbol = market["symbol"]
                    trades += self.read(partial(self.exchange.fetch_my_trades, symbol, since_ms))
        else:
            for scope in self.profile.scopes:
                trades += self.read(
                    partial(self.exchange.fetch_my_trades, None, since_ms, None, dict(scope))
                )
        out = []
        for trade in trades:
            market = self._market(trade.get("symbol", ""))
            if market is not None:
                out.append(reports.fill_report(trade, market, self.profile))
        return self._once(out, lambda f: f.venue_fill_id)
