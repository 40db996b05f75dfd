"""Sizing arithmetic (worker/trading/sizing.py) against a balance and a symbol's rules.

Two specifications stand for the venues: an MT5 forex symbol (lots of 100,000, step 0.01,
no minimum notional) and an exchange's linear perpetual (contracts of 0.001 BTC, a 5 USDT
minimum order value). The arithmetic is the same for both; only the spec differs.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from switchyard.domain import Side, SignalPayload
from worker.trading import sizing
from worker.venue import SymbolSpec

D = Decimal

FOREX = SymbolSpec(
    symbol="EURUSD",
    volume_min=D("0.01"),
    volume_max=D("100"),
    volume_step=D("0.01"),
    price_step=D("0.00001"),
    contract_size=D(100_000),
    min_notional=None,
    bid=D("1.08490"),
    ask=D("1.08500"),
    unit_move_value=D(100_000),
)
PERPETUAL = SymbolSpec(
    symbol="BTC/USDT:USDT",
    volume_min=D("0.001"),
    volume_max=None,
    volume_step=D("0.001"),
    price_step=D("0.1"),
    contract_size=D(1),
    min_notional=D(5),
    bid=D("50000"),
    ask=D("50000.1"),
    unit_move_value=D(1),
)


def payload(sizing_: dict[str, Any], **extra: Any) -> SignalPayload:
    return SignalPayload.model_validate(
        {"action": "buy", "symbol": "EURUSD", "sizing": sizing_, **extra}
    )


def size(p: SignalPayload, spec: SymbolSpec, balance: str, sl: str | None = None) -> Any:
    entry = sizing.entry_price(Side.BUY, spec)
    return sizing.volume(
        p, balance=D(balance), spec=spec, entry=entry, sl=None if sl is None else D(sl)
    )


def test_fixed_is_the_subscribers_volume_rounded_down_to_the_step():
    sized = size(payload({"mode": "fixed", "volume": "0.037"}), FOREX, "1000")
    assert sized.volume == D("0.03")
    assert sized.capped is False


def test_balance_pct_is_a_position_worth_that_share_of_the_balance_times_leverage():
    # 2% of 100,000 = 2,000 USD × 10 = 20,000 USD of EURUSD at 1.085: 0.1843 lots
    sized = size(payload({"mode": "balance_pct", "percent": 2}, leverage=10), FOREX, "100000")
    assert sized.raw == D(20_000) / (D("1.085") * 100_000)
    assert sized.volume == D("0.18")
    # on the perpetual: 2,000 USDT at 50,000.1 → 0.039999 BTC → 0.039
    perp = size(payload({"mode": "balance_pct", "percent": 2}), PERPETUAL, "100000")
    assert perp.volume == D("0.039")


def test_leverage_multiplies_a_balance_pct_position_only_where_the_symbol_is_margined():
    spot = replace(PERPETUAL, symbol="BTC/USDT", volume_step=D("0.000001"), margined=False)
    levered = payload({"mode": "balance_pct", "percent": 2}, leverage=10)
    # spot: 2% of 10,000 USDT buys 200 USDT of BTC at 50,000.1, leverage or not
    on_spot = size(levered, spot, "10000")
    assert on_spot.raw == D(200) / D("50000.1")
    assert on_spot.volume == D("0.003999")
    assert on_spot.explained("balance_pct", D(10000))["leverage"] == "1"
    # the perpetual: a position worth 2,000 USDT on 200 USDT of margin
    on_margin = size(levered, PERPETUAL, "10000")
    assert on_margin.raw == D(2000) / D("50000.1")
    assert on_margin.explained("balance_pct", D(10000))["leverage"] == "10"


def test_risk_pct_loses_that_share_of_the_balance_at_the_stop():
    # 1% of 50,000 = 500 USD at a stop 50 pips (0.005) away: 500 / (0.005 × 100,000) = 1 lot
    sized = size(payload({"mode": "risk_pct", "percent": 1}), FOREX, "50000", sl="1.0800")
    assert sized.volume == D("1")
    perp = size(payload({"mode": "risk_pct", "percent": 1}), PERPETUAL, "10000", sl="49000.1")
    assert perp.volume == D("0.1")  # 100 USDT over a 1,000 USDT move


def test_risk_pct_without_a_stop_sends_nothing_and_says_why():
    answer = size(payload({"mode": "risk_pct", "percent": 1}), FOREX, "50000")
    assert isinstance(answer, sizing.TooSmall)
    assert "needs a stop loss" in answer.message


def test_a_size_below_the_minimum_is_refused_never_rounded_up():
    answer = size(payload({"mode": "balance_pct", "percent": 2}), FOREX, "50")
    assert isinstance(answer, sizing.TooSmall)
    assert "below the minimum of 0.01" in answer.message
    assert "0.0000092" in answer.message  # what it came to, as people write it
    fixed = size(payload({"mode": "fixed", "volume": "0.009"}), FOREX, "100000")
    assert isinstance(fixed, sizing.TooSmall)


def test_an_order_below_the_minimum_notional_is_refused():
    # 0.0001 BTC is a valid step count but worth 5 USDT only at 50,000: 0.00009 → 0 steps
    answer = size(payload({"mode": "balance_pct", "percent": "0.004"}), PERPETUAL, "100000")
    assert isinstance(answer, sizing.TooSmall)
    spec = replace(PERPETUAL, volume_min=D("0.00001"), volume_step=D("0.00001"))
    small = size(payload({"mode": "fixed", "volume": "0.00005"}), spec, "100000")
    assert isinstance(small, sizing.TooSmall)
    assert "minimum order value of 5" in small.message


def test_above_the_maximum_the_volume_is_capped_and_says_so():
    sized = size(payload({"mode": "fixed", "volume": "250"}), FOREX, "100000")
    assert sized.volume == D("100")
    assert sized.capped is True
    assert sized.explained("fixed", D(1))["capped_at_max"] is True


@pytest.mark.parametrize(
    ("side", "entry", "sl", "tp"),
    [(Side.BUY, "1.08500", "1.07958", "1.11755"), (Side.SELL, "1.08490", "1.09032", "1.05235")],
)
def test_sl_pct_and_tp_pct_are_placed_from_the_entry_on_the_price_grid(side, entry, sl, tp):
    p = payload({"mode": "fixed", "volume": "0.1"}, sl_pct="0.5", tp_pct="3")
    stops = sizing.stops(p, side, D(entry), FOREX)
    assert stops.sl == D(sl)
    assert stops.tp == D(tp)
    given = sizing.stops(payload({"mode": "fixed", "volume": "0.1"}, sl="1.07", sl_pct="0.5"),
                         side, D(entry), FOREX)  # fmt: skip
    assert given.sl == D("1.07")  # the alert's own stop wins
