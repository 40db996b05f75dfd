"""Fault switches a test flips at run time through ``POST /_sim/faults``.

An armed fault fires on the next ``count`` requests it matches (one venue or any, every
request or only those that place an order) and is then spent:

- ``rate_limit``: the venue's own rate-limit answer (Binance 429 -1003, Bybit 10006,
  OKX 429 50011); ``ip_ban``: Binance's 418. Nothing is executed.
- ``unavailable``: a gateway's bare 502 page; ``maintenance``: the venue's maintenance
  answer. Nothing is executed.
- ``hold``: the request is executed, then its answer is held back until the client gives
  up (ccxt raises RequestTimeout) or ``hold_s`` passes. ``drop``: executed, then the
  connection is cut without an answer (ccxt raises ExchangeNotAvailable).

Two more switches last until reset: ``clock_skew_ms`` moves the venues' clock for the
timestamp-window checks only (every signed request is then refused as the venues refuse a
skewed client), and revoked keys (``POST /_sim/keys/revoke``), kept on the keys themselves.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"
    IP_BAN = "ip_ban"
    UNAVAILABLE = "unavailable"
    MAINTENANCE = "maintenance"
    HOLD = "hold"
    DROP = "drop"

    @property
    def after_execution(self) -> bool:
        return self in (FaultKind.HOLD, FaultKind.DROP)


class FaultSpecError(ValueError):
    """A fault request names an unknown kind or a bad value."""


@dataclass
class Armed:
    kind: FaultKind
    count: int = 1
    #: Only requests to this venue (None: any venue).
    exchange: str | None = None
    #: Only requests that place an order (the default for hold and drop).
    orders_only: bool = False
    #: How long a held answer waits for the client to give up, at most.
    hold_s: float = 60.0

    def matches(self, exchange: str, places_order: bool) -> bool:
        return self.exchange in (None, exchange) and (places_order or not self.orders_only)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "count": self.count,
            "exchange": self.exchange,
            "orders_only": self.orders_only,
            "hold_s": self.hold_s,
        }


def parse_fault(raw: dict[str, Any]) -> Armed:
    try:
        kind = FaultKind(str(raw.get("kind")))
    except ValueError as exc:
        raise FaultSpecError(f"kind must be one of {[k.value for k in FaultKind]}") from exc
    count = raw.get("count", 1)
    hold_s = raw.get("hold_s", 60.0)
    exchange = raw.get("exchange")
    orders_only = raw.get("orders_only", kind.after_execution)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise FaultSpecError("count must be a positive integer")
    if not isinstance(hold_s, int | float) or not 0 < hold_s <= 600:
        raise FaultSpecError("hold_s must be a number of seconds in (0, 600]")
    if exchange is not None and not isinstance(exchange, str):
        raise FaultSpecError("exchange must be a venue name")
    if not isinstance(orders_only, bool):
        raise FaultSpecError("orders_only must be true or false")
    return Armed(kind, count, exchange, orders_only, float(hold_s))


@dataclass
class Faults:
    armed: list[Armed] = field(default_factory=list)
    clock_skew_ms: int = 0

    def arm(self, fault: Armed) -> None:
        self.armed.append(fault)

    def take(self, exchange: str, places_order: bool, *, after_execution: bool) -> Armed | None:
        """Spend one firing of the first armed fault matching this request and phase."""
        for fault in self.armed:
            if fault.kind.after_execution != after_execution:
                continue
            if fault.matches(exchange, places_order):
                fault.count -= 1
                if fault.count == 0:
                    self.armed.remove(fault)
                return fault
        return None

    def reset(self) -> None:
        self.armed.clear()
        self.clock_skew_ms = 0

    def describe(self) -> dict[str, Any]:
        return {
            "armed": [fault.describe() for fault in self.armed],
            "clock_skew_ms": self.clock_skew_ms,
        }
