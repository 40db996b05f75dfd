"""The clock and a deterministic price feed shared by every simulated venue.

A mid price is a pure function of (seed, base currency, whole second): two slow sines and
a per-second hash-noise term around a base price, the same shape as the simulated MT5
terminal's feed. Every venue quotes the same mid for the same base currency, each rounded
to its own tick. A test pins a mid to make fills deterministic.
"""

import hashlib
import math
import time
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Final

from .instruments import Instrument

#: Mid prices the walk swings around, and its relative amplitude.
BASE_PRICES: Final[dict[str, tuple[Decimal, float]]] = {
    "BTC": (Decimal("65000"), 0.01),
    "ETH": (Decimal("3200"), 0.012),
}
#: Half the bid/ask spread, relative to mid (1 basis point).
HALF_SPREAD: Final = Decimal("0.00005")


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) derived from ``parts``."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass
class Clock:
    """Wall-clock milliseconds, unless frozen."""

    frozen_ms: int | None = None

    def now_ms(self) -> int:
        if self.frozen_ms is not None:
            return self.frozen_ms
        return int(time.time() * 1000)


@dataclass(frozen=True)
class Quote:
    bid: Decimal
    ask: Decimal
    mid: Decimal


@dataclass
class PriceFeed:
    seed: int
    clock: Clock
    pinned: dict[str, Decimal] = field(default_factory=dict)

    def mid(self, base: str) -> Decimal:
        if base in self.pinned:
            return self.pinned[base]
        price, amplitude = BASE_PRICES[base]
        second = self.clock.now_ms() // 1000
        phase1 = 2 * math.pi * _unit(self.seed, base, "phase1")
        phase2 = 2 * math.pi * _unit(self.seed, base, "phase2")
        noise = 2 * _unit(self.seed, base, second) - 1
        swing = (
            math.sin(2 * math.pi * second / 600 + phase1)
            + 0.25 * math.sin(2 * math.pi * second / 47 + phase2)
            + 0.1 * noise
        )
        return (price * Decimal(1 + amplitude * swing)).quantize(Decimal("0.000001"))

    def quote(self, instrument: Instrument) -> Quote:
        """Bid and ask of ``instrument``: the mid minus/plus half the spread, on its tick."""
        mid = self.mid(instrument.base)
        tick = instrument.tick
        bid = (mid * (1 - HALF_SPREAD) / tick).to_integral_value(ROUND_FLOOR) * tick
        ask = (mid * (1 + HALF_SPREAD) / tick).to_integral_value(ROUND_CEILING) * tick
        if ask <= bid:
            ask = bid + tick
        return Quote(bid=bid, ask=ask, mid=mid)

    def pin(self, base: str, price: Decimal | None) -> None:
        if base not in BASE_PRICES:
            raise ValueError(f"unknown base currency {base!r}; known: {sorted(BASE_PRICES)}")
        if price is None:
            self.pinned.pop(base, None)
        elif price <= 0:
            raise ValueError(f"a price must be positive, not {price}")
        else:
            self.pinned[base] = price
