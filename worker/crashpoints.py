"""Named points of the order path where a test can make the worker die (SIGKILL).

Off unless SWITCHYARD_WORKER_CRASH_POINTS is set (tests only), e.g.
`after_send:0.3,before_send:0.1`: at each named point the process kills itself with
that probability, exactly as a power cut would, with no cleanup of any kind.
"""

from __future__ import annotations

import os
import random
import signal
from functools import cache
from typing import Final

from switchyard.errors import ConfigError

ENV: Final = "SWITCHYARD_WORKER_CRASH_POINTS"


@cache
def _armed() -> dict[str, float]:
    spec = os.environ.get(ENV, "")
    armed: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, chance = item.partition(":")
        armed[name] = float(chance) if chance else 1.0
    return armed


def refuse_in_production(environment: str) -> None:
    """A production worker that would kill itself on purpose is a configuration error."""
    if environment == "production" and os.environ.get(ENV):
        raise ConfigError(f"{ENV} is a test switch and is refused when SWITCHYARD_ENV=production")


def crash_point(name: str) -> None:
    """Die here, now, with the configured probability (never when not configured)."""
    chance = _armed().get(name)
    if chance is not None and random.random() < chance:  # noqa: S311 - test chaos only
        os.kill(os.getpid(), signal.SIGKILL)
