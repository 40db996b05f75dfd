"""An account's own risk limits (`accounts.risk_limits`), checked before an order is sent.

The limits are `switchyard.domain.RiskLimits`, the model the functions validate
with. The stored value is validated again here: it may have been written through the
Supabase API, and limits that cannot be read refuse the order rather than being ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from switchyard.domain import ErrorCode, OrderPayload, RiskLimits
from worker.invalid import describe
from worker.outcome import Failed, failed


def check_order(stored: Mapping[str, Any], payload: OrderPayload) -> Failed | None:
    """None when the order is within the limits, else the refusal."""
    try:
        limits = RiskLimits.model_validate(stored)
    except ValidationError as exc:
        return failed(
            ErrorCode.RISK_LIMIT,
            f"this account's risk limits cannot be read ({describe(exc, RiskLimits)}): "
            "fix them before trading",
        )
    if limits.max_volume is not None and payload.volume > limits.max_volume:
        return failed(
            ErrorCode.RISK_LIMIT,
            f"{payload.volume} lots is above this account's limit of {limits.max_volume} lots "
            "per order",
        )
    if limits.allowed_symbols is not None and payload.symbol not in limits.allowed_symbols:
        return failed(
            ErrorCode.RISK_LIMIT, f"{payload.symbol} is not among this account's allowed symbols"
        )
    return None
