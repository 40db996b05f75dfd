"""An account's own risk limits (`accounts.risk_limits`), checked before an order is sent.

Recognised keys (others are ignored, so the functions may add more):

    max_volume       the largest volume of one order, in lots
    allowed_symbols  the only symbols this account may open orders in
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from functions.core.domain import ErrorCode, OrderPayload
from worker.outcome import Failed, failed


def check_order(limits: dict[str, Any], payload: OrderPayload) -> Failed | None:
    """None when the order is within the limits, else the refusal."""
    if "max_volume" in limits:
        try:
            cap = Decimal(str(limits["max_volume"]))
        except InvalidOperation:
            return failed(ErrorCode.RISK_LIMIT, "the account's max_volume limit is not a number")
        if payload.volume > cap:
            return failed(
                ErrorCode.RISK_LIMIT,
                f"{payload.volume} lots is above this account's limit of {cap} lots per order",
            )
    allowed = limits.get("allowed_symbols")
    if isinstance(allowed, list) and payload.symbol not in allowed:
        return failed(
            ErrorCode.RISK_LIMIT, f"{payload.symbol} is not among this account's allowed symbols"
        )
    return None
