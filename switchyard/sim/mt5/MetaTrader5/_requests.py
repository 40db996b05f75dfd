"""Turning an ``order_send``/``order_check`` request dict into a TradeRequest.

Like the real package: unknown keys and wrongly typed values make the call return
None with ``(-2, 'Invalid "<key>" argument')``; missing keys default to 0 / "".
"""

import datetime as dt
from collections.abc import Mapping
from typing import Final

from ._trade_types import TradeRequest

#: The terminal keeps at most this many characters of an order comment.
COMMENT_MAX_CHARS: Final = 31

_INT_FIELDS: Final = frozenset(
    {
        "action",
        "magic",
        "order",
        "deviation",
        "type",
        "type_filling",
        "type_time",
        "position",
        "position_by",
    }
)
_FLOAT_FIELDS: Final = frozenset({"volume", "price", "stoplimit", "sl", "tp"})
_STR_FIELDS: Final = frozenset({"symbol", "comment"})


class InvalidArgumentError(ValueError):
    """A request field the terminal refuses; the argument name is the message."""


def _expiration(value: object) -> int:
    if isinstance(value, dt.datetime):
        return (
            int(value.timestamp())
            if value.tzinfo
            else int(value.replace(tzinfo=dt.UTC).timestamp())
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidArgumentError("expiration")


def parse_request(raw: object) -> TradeRequest:
    if isinstance(raw, TradeRequest):
        raw = raw._asdict()
    if not isinstance(raw, Mapping):
        raise InvalidArgumentError("request")
    ints: dict[str, int] = dict.fromkeys(_INT_FIELDS | {"expiration"}, 0)
    floats: dict[str, float] = dict.fromkeys(_FLOAT_FIELDS, 0.0)
    texts: dict[str, str] = dict.fromkeys(_STR_FIELDS, "")
    for key, value in raw.items():
        if key in _INT_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidArgumentError(key)
            ints[key] = int(value)
        elif key in _FLOAT_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidArgumentError(key)
            floats[key] = float(value)
        elif key in _STR_FIELDS:
            if not isinstance(value, str):
                raise InvalidArgumentError(key)
            texts[key] = str(value)
        elif key == "expiration":
            ints[key] = _expiration(value)
        else:
            raise InvalidArgumentError(str(key))
    if "action" not in raw:
        raise InvalidArgumentError("action")
    return TradeRequest(
        action=ints["action"],
        magic=ints["magic"],
        order=ints["order"],
        symbol=texts["symbol"],
        volume=floats["volume"],
        price=floats["price"],
        stoplimit=floats["stoplimit"],
        sl=floats["sl"],
        tp=floats["tp"],
        deviation=ints["deviation"],
        type=ints["type"],
        type_filling=ints["type_filling"],
        type_time=ints["type_time"],
        expiration=ints["expiration"],
        comment=texts["comment"][:COMMENT_MAX_CHARS],
        position=ints["position"],
        position_by=ints["position_by"],
    )
