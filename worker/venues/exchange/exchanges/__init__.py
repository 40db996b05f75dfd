"""Every exchange the worker serves, by venue: one module each (see `profile.py`)."""

from __future__ import annotations

from typing import Final

from switchyard.domain import Venue
from worker.venues.exchange.exchanges import binance, bybit, coinbase, okx
from worker.venues.exchange.profile import Profile

PROFILES: Final[dict[Venue, Profile]] = {
    profile.venue: profile
    for profile in (binance.PROFILE, bybit.PROFILE, okx.PROFILE, coinbase.PROFILE)
}
