"""The simulated market: symbol specifications, the clock and a deterministic price feed.

Prices are a pure function of (seed, symbol, whole second): two slow sines plus a
per-second hash-noise term, so a frozen clock gives frozen prices and two servers with
the same seed quote the same prices at the same instant.
"""

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from ._constants import SYMBOL_CALC_MODE_CFD, SYMBOL_CALC_MODE_FOREX

#: Filling-mode bits of ``SymbolInfo.filling_mode`` (SYMBOL_FILLING_FOK / _IOC in MQL5).
FILLING_FOK_BIT: Final = 1
FILLING_IOC_BIT: Final = 2
#: What every simulated symbol allows (market execution: FOK and IOC; RETURN is implied).
SYMBOL_FILLING_MODE: Final = FILLING_FOK_BIT | FILLING_IOC_BIT


@dataclass(frozen=True, kw_only=True)
class SymbolSpec:
    """Static contract data of one symbol."""

    name: str
    description: str
    path: str
    base_price: float
    digits: int
    spread_points: int
    contract_size: float
    volume_min: float
    volume_max: float
    volume_step: float
    currency_base: str
    currency_profit: str
    currency_margin: str
    calc_mode: int
    #: Relative amplitude of the slow price swing.
    amplitude: float
    #: Whether the symbol's trading session never opens (a "market closed" symbol).
    always_closed: bool = False

    @property
    def point(self) -> float:
        return float(10.0**-self.digits)


def _forex(name: str, description: str, price: float, digits: int, spread: int) -> SymbolSpec:
    return SymbolSpec(
        name=name,
        description=description,
        path=f"Forex\\{name}",
        base_price=price,
        digits=digits,
        spread_points=spread,
        contract_size=100_000.0,
        volume_min=0.01,
        volume_max=100.0,
        volume_step=0.01,
        currency_base=name[:3],
        currency_profit=name[3:],
        currency_margin=name[:3],
        calc_mode=SYMBOL_CALC_MODE_FOREX,
        amplitude=0.002,
    )


CATALOG: Final[dict[str, SymbolSpec]] = {
    s.name: s
    for s in (
        _forex("EURUSD", "Euro vs US Dollar", 1.0850, 5, 10),
        _forex("GBPUSD", "Great Britain Pound vs US Dollar", 1.2650, 5, 12),
        _forex("USDJPY", "US Dollar vs Japanese Yen", 150.00, 3, 12),
        SymbolSpec(
            name="XAUUSD",
            description="Gold vs US Dollar",
            path="Metals\\XAUUSD",
            base_price=2350.00,
            digits=2,
            spread_points=25,
            contract_size=100.0,
            volume_min=0.01,
            volume_max=50.0,
            volume_step=0.01,
            currency_base="XAU",
            currency_profit="USD",
            currency_margin="XAU",
            calc_mode=SYMBOL_CALC_MODE_CFD,
            amplitude=0.004,
        ),
        SymbolSpec(
            name="BTCUSD",
            description="Bitcoin vs US Dollar",
            path="Crypto\\BTCUSD",
            base_price=65000.00,
            digits=2,
            spread_points=1500,
            contract_size=1.0,
            volume_min=0.01,
            volume_max=10.0,
            volume_step=0.01,
            currency_base="BTC",
            currency_profit="USD",
            currency_margin="BTC",
            calc_mode=SYMBOL_CALC_MODE_CFD,
            amplitude=0.01,
        ),
        SymbolSpec(
            name="DE40",
            description="Germany 40 Index (session closed)",
            path="Indices\\DE40",
            base_price=18000.0,
            digits=1,
            spread_points=20,
            contract_size=1.0,
            volume_min=0.1,
            volume_max=50.0,
            volume_step=0.1,
            currency_base="EUR",
            currency_profit="EUR",
            currency_margin="EUR",
            calc_mode=SYMBOL_CALC_MODE_CFD,
            amplitude=0.003,
            always_closed=True,
        ),
    )
}

DEFAULT_SYMBOLS: Final = tuple(CATALOG)


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) derived from ``parts``."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass
class Clock:
    """Wall-clock milliseconds, unless frozen; ``advance`` moves either kind."""

    frozen_ms: int | None = None
    offset_ms: int = 0

    def now_ms(self) -> int:
        if self.frozen_ms is not None:
            return self.frozen_ms
        return int(time.time() * 1000) + self.offset_ms

    def freeze(self, at_s: float | None) -> None:
        self.frozen_ms = self.now_ms() if at_s is None else int(at_s * 1000)

    def unfreeze(self) -> None:
        self.frozen_ms = None

    def advance(self, seconds: float) -> None:
        if self.frozen_ms is not None:
            self.frozen_ms += int(seconds * 1000)
        else:
            self.offset_ms += int(seconds * 1000)


@dataclass
class Market:
    """Quotes and sessions for the enabled symbols."""

    seed: int
    symbols: dict[str, SymbolSpec]
    clock: Clock
    closed: set[str] = field(default_factory=set)
    all_closed: bool = False
    pinned_bid: dict[str, float] = field(default_factory=dict)

    @classmethod
    def create(cls, seed: int, names: Iterable[str], clock: Clock) -> "Market":
        unknown = [n for n in names if n not in CATALOG]
        if unknown:
            raise ValueError(f"unknown simulated symbols: {unknown}; known: {list(CATALOG)}")
        return cls(seed=seed, symbols={n: CATALOG[n] for n in names}, clock=clock)

    def spec(self, name: str) -> SymbolSpec | None:
        return self.symbols.get(name)

    def is_open(self, name: str) -> bool:
        spec = self.symbols[name]
        return not (self.all_closed or spec.always_closed or name in self.closed)

    def quote(self, name: str, now_ms: int | None = None) -> tuple[float, float]:
        """(bid, ask) of ``name`` at ``now_ms`` (default: the clock)."""
        spec = CATALOG[name]
        second = (self.clock.now_ms() if now_ms is None else now_ms) // 1000
        if name in self.pinned_bid:
            bid = self.pinned_bid[name]
        else:
            phase1 = 2 * math.pi * _unit(self.seed, name, "phase1")
            phase2 = 2 * math.pi * _unit(self.seed, name, "phase2")
            noise = 2 * _unit(self.seed, name, second) - 1
            swing = (
                math.sin(2 * math.pi * second / 600 + phase1)
                + 0.25 * math.sin(2 * math.pi * second / 47 + phase2)
                + 0.1 * noise
            )
            bid = spec.base_price * (1 + spec.amplitude * swing)
        bid = round(bid, spec.digits)
        ask = round(bid + spec.spread_points * spec.point, spec.digits)
        return bid, ask

    def mid(self, name: str) -> float:
        bid, ask = self.quote(name)
        return (bid + ask) / 2

    def rate(self, from_ccy: str, to_ccy: str) -> float:
        """How many ``to_ccy`` one ``from_ccy`` buys, from the catalog's mid prices."""
        if from_ccy == to_ccy:
            return 1.0
        direct, inverse = from_ccy + to_ccy, to_ccy + from_ccy
        if direct in CATALOG:
            return self.mid(direct)
        if inverse in CATALOG:
            return 1.0 / self.mid(inverse)
        if "USD" not in (from_ccy, to_ccy):
            return self.rate(from_ccy, "USD") * self.rate("USD", to_ccy)
        return 1.0

    def margin(self, name: str, volume: float, price: float, leverage: int, ccy: str) -> float:
        """Initial margin in ``ccy``: notional at ``price`` divided by the leverage."""
        spec = CATALOG[name]
        notional = volume * spec.contract_size * price
        return notional / max(leverage, 1) * self.rate(spec.currency_profit, ccy)

    def profit(
        self,
        name: str,
        is_buy: bool,
        volume: float,
        price_open: float,
        price_close: float,
        ccy: str,
    ) -> float:
        """Profit in ``ccy`` of ``volume`` lots opened at one price and closed at another."""
        spec = CATALOG[name]
        move = price_close - price_open if is_buy else price_open - price_close
        return move * volume * spec.contract_size * self.rate(spec.currency_profit, ccy)
