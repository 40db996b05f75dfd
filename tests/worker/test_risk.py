"""Risk limits: the one model the functions validate with, re-checked by the worker."""

from __future__ import annotations

from switchyard.domain import ErrorCode, OrderPayload
from worker.trading.risk import check_order

ORDER = OrderPayload.model_validate({"symbol": "EURUSD", "side": "buy", "volume": "0.5"})


def test_an_order_within_the_limits_passes():
    assert check_order({}, ORDER) is None
    assert check_order({"max_volume": "0.5", "allowed_symbols": ["EURUSD"]}, ORDER) is None


def test_an_order_above_max_volume_or_outside_allowed_symbols_is_refused():
    too_big = check_order({"max_volume": "0.1"}, ORDER)
    assert too_big is not None
    assert too_big.error.code is ErrorCode.RISK_LIMIT
    assert "0.1 lots" in too_big.error.message
    elsewhere = check_order({"allowed_symbols": ["GBPUSD"]}, ORDER)
    assert elsewhere is not None
    assert "EURUSD is not among" in elsewhere.error.message


def test_limits_written_around_the_functions_refuse_to_trade_instead_of_being_ignored():
    # authenticated may update risk_limits through the Supabase API, unvalidated
    for stored in ({"max_volume": "lots"}, {"max_volume": -1}, {"max_lots": 1}):
        refusal = check_order(stored, ORDER)
        assert refusal is not None, stored
        assert refusal.error.code is ErrorCode.RISK_LIMIT
        assert "cannot be read" in refusal.error.message
