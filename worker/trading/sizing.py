"""A signal's volume and stops from the subscriber's settings: venue-neutral arithmetic.

Everything is Decimal, over the account's balance as the venue reports it when the job
runs and the symbol's `SymbolSpec` (volume step, minimum, maximum, minimum notional, the
value of a price move). A volume is always rounded *down* to the step: when that leaves
less than the venue's minimum (or an order worth less than its minimum notional) the
answer is a `TooSmall` saying so, never a volume rounded up to something the subscriber
did not ask for. Above the maximum the volume is capped, and the sizing says it was.

    fixed        volume                                       (the subscriber's own)
    balance_pct  balance × percent/100 × leverage  / (entry × unit_move_value)
                 (leverage only where the symbol is traded on margin: never on spot)
    risk_pct     balance × percent/100 / (|entry − stop| × unit_move_value)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from switchyard.domain import (
    BalancePctSizing,
    FixedSizing,
    RiskPctSizing,
    Side,
    SignalPayload,
)
from worker.venue import SymbolSpec

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sized:
    """The volume to send, and how it was reached (kept in the job's result)."""

    volume: Decimal
    #: Before rounding to the step and capping at the maximum.
    raw: Decimal
    capped: bool
    #: The leverage the size was multiplied by (1 unless balance_pct on a margined symbol).
    leverage: int = 1

    def explained(self, mode: str, balance: Decimal) -> dict[str, str | bool]:
        return {
            "mode": mode,
            "balance": str(balance),
            "leverage": str(self.leverage),
            "raw": str(self.raw),
            "volume": str(self.volume),
            "capped_at_max": self.capped,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TooSmall:
    """No volume the venue accepts: the message says what it came to and the minimum."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Stops:
    sl: Decimal | None
    tp: Decimal | None


def entry_price(side: Side, spec: SymbolSpec) -> Decimal:
    """What a market order pays now: the ask to buy, the bid to sell."""
    return spec.ask if side is Side.BUY else spec.bid


def stops(payload: SignalPayload, side: Side, entry: Decimal, spec: SymbolSpec) -> Stops:
    """The alert's own sl/tp when it gives them, else the subscription's percentages of
    the entry, rounded to the price step away from nothing (a stop never lands on entry)."""
    sign = Decimal(1) if side is Side.BUY else Decimal(-1)
    sl, tp = payload.sl, payload.tp
    if sl is None and payload.sl_pct is not None:
        sl = _to_step(entry * (1 - sign * payload.sl_pct / HUNDRED), spec.price_step)
    if tp is None and payload.tp_pct is not None:
        tp = _to_step(entry * (1 + sign * payload.tp_pct / HUNDRED), spec.price_step)
    return Stops(sl=sl, tp=tp)


def volume(
    payload: SignalPayload,
    *,
    balance: Decimal,
    spec: SymbolSpec,
    entry: Decimal,
    sl: Decimal | None,
) -> Sized | TooSmall:
    """The volume of `payload`'s sizing on an account with `balance`, for `spec`."""
    sizing = payload.sizing
    leverage = 1
    if isinstance(sizing, FixedSizing):
        raw = sizing.volume
    elif isinstance(sizing, BalancePctSizing):
        # A spot market has no leverage: spending 2% of the balance buys 2% of it, whatever
        # leverage the subscription asks for (it is for perpetuals and margin accounts).
        leverage = (payload.leverage or 1) if spec.margined else 1
        money = balance * sizing.percent / HUNDRED * leverage
        raw = money / (entry * spec.unit_move_value)
    else:
        assert isinstance(sizing, RiskPctSizing)
        if sl is None:
            return TooSmall(
                message="risk_pct sizing needs a stop loss: the alert's sl or the "
                "subscription's sl_pct; nothing was sent"
            )
        distance = abs(entry - sl)
        if distance == 0:
            return TooSmall(message="the stop loss is at the entry price; nothing was sent")
        risk = balance * sizing.percent / HUNDRED
        raw = risk / (distance * spec.unit_move_value)
    fitted = fit(raw, spec, entry)
    return replace(fitted, leverage=leverage) if isinstance(fitted, Sized) else fitted


def fit(raw: Decimal, spec: SymbolSpec, entry: Decimal) -> Sized | TooSmall:
    """`raw` down to the step, capped at the maximum; too small below the minimums."""
    stepped = (raw / spec.volume_step).to_integral_value(rounding=ROUND_DOWN) * spec.volume_step
    capped = spec.volume_max is not None and stepped > spec.volume_max
    if capped:
        assert spec.volume_max is not None
        stepped = (spec.volume_max / spec.volume_step).to_integral_value(
            rounding=ROUND_DOWN
        ) * spec.volume_step
    if stepped < spec.volume_min or stepped <= 0:
        return TooSmall(
            message=f"the size comes to {_plain(raw)} of {spec.symbol}, {_plain(stepped)} in "
            f"steps of {_plain(spec.volume_step)}: below the minimum of "
            f"{_plain(spec.volume_min)}; nothing was sent (it is never rounded up)"
        )
    if spec.min_notional is not None:
        notional = stepped * entry * spec.contract_size
        if notional < spec.min_notional:
            return TooSmall(
                message=f"an order of {_plain(stepped)} {spec.symbol} is worth "
                f"{_plain(notional.quantize(Decimal('0.01'), rounding=ROUND_DOWN))}: below "
                f"the venue's minimum order value of {_plain(spec.min_notional)}; nothing "
                "was sent (it is never rounded up)"
            )
    return Sized(volume=stepped.normalize(), raw=raw, capped=capped)


def _to_step(price: Decimal, step: Decimal | None) -> Decimal:
    if step is None:  # the adapter rounds to the venue's precision
        return price.normalize()
    return ((price / step).to_integral_value(rounding=ROUND_HALF_UP) * step).normalize()


def _plain(value: Decimal) -> str:
    """A Decimal as people write it: 0.0018, not 1.8E-3; at most 8 places."""
    text = f"{value.quantize(Decimal('0.00000001'), rounding=ROUND_DOWN).normalize():f}"
    return text
