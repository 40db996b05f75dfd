"""Code the bridge installs once per connection in the terminal's Python (the rpyc server).

mt5linux's classic rpyc server runs whatever its client sends; the mt5linux client
itself installs `import MetaTrader5 as mt5` that way. These helpers answer every call
as one JSON string, which rpyc passes by value: one round trip per call and no proxy
objects left behind (reading a proxy's attributes would cost a round trip each).
"""

from __future__ import annotations

from typing import Final

PRELUDE: Final = r"""
import json as _switchyard_json


def _switchyard_plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "_asdict"):
        return {k: _switchyard_plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (tuple, list)):
        return [_switchyard_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _switchyard_plain(v) for k, v in value.items()}
    return str(value)


def _switchyard_answer(value):
    return _switchyard_json.dumps(
        {"value": _switchyard_plain(value), "last_error": _switchyard_plain(mt5.last_error())}
    )


def _switchyard_call(name, arguments):
    spec = _switchyard_json.loads(arguments)
    return _switchyard_answer(getattr(mt5, name)(*spec["args"], **spec["kwargs"]))


def _switchyard_login(login, password, server, timeout_ms):
    return _switchyard_answer(bool(mt5.login(login, password=password, server=server,
                                             timeout=timeout_ms)))


def _switchyard_trail(comment, magic, date_from, date_to):
    def ours(item):
        return item.comment == comment and item.magic == magic
    sources = {
        "orders": mt5.orders_get(),
        "positions": mt5.positions_get(),
        "history_orders": mt5.history_orders_get(date_from, date_to),
        "deals": mt5.history_deals_get(date_from, date_to),
    }
    if any(items is None for items in sources.values()):
        return _switchyard_answer(None)  # not "nothing found": the terminal could not say
    return _switchyard_answer({k: [i for i in v if ours(i)] for k, v in sources.items()})
"""
