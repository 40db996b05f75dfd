"""Real API functions the simulator does not model: they fail like an unsupported call."""

from typing import Final

from ._constants import RES_E_UNSUPPORTED
from ._state import terminal

_UNSUPPORTED: Final = (RES_E_UNSUPPORTED, "Terminal: Unsupported in the simulated terminal")


def _unsupported(*args: object, **kwargs: object) -> None:
    t = terminal()
    with t.lock:
        t.last_error = _UNSUPPORTED


copy_rates_from = _unsupported
copy_rates_from_pos = _unsupported
copy_rates_range = _unsupported
copy_ticks_from = _unsupported
copy_ticks_range = _unsupported
market_book_add = _unsupported
market_book_get = _unsupported
market_book_release = _unsupported
