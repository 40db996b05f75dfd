"""The one asyncio loop every exchange lane hands its ccxt calls to.

Why one loop in its own thread, and not a loop per lane or per account: ccxt.async_support
instances, their shared aiohttp sessions (one per exchange) and the shared request budgets
(`asyncio`-based throttlers) all belong to the loop they were made on. One loop lets a
thousand accounts share them, while the lanes stay plain threads running the synchronous,
venue-neutral flow (psycopg, the journal) unchanged: a lane submits a coroutine and waits
for its answer, so an account is served serially (one lane holds its session at a time)
and accounts on different lanes are served concurrently, their requests interleaved on the
loop. A loop per lane would split the sessions and the budgets per lane; one per account
would cost a thread and a connection pool each.

A loop thread that dies is noticed: the worker watches it like its other threads
(`thread`), and every call after that raises VenueUnavailable (nothing was sent).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from switchyard.errors import VenueUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


class CallTimedOutError(Exception):
    """The coroutine did not finish in time; it was cancelled (its effect is unknown)."""


class LoopThread(threading.Thread):
    def __init__(self, name: str = "exchange-loop") -> None:
        super().__init__(name=name, daemon=True)
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        try:
            self.loop.run_forever()
        finally:
            self._started.set()
            self.loop.close()

    def start(self) -> None:
        super().start()
        self._started.wait(10)

    def call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run `coroutine` on the loop and wait for it; CallTimedOutError after `timeout_s`."""
        if not self.is_alive() or self.loop.is_closed():
            coroutine.close()
            raise VenueUnavailable("the worker's exchange loop is not running: nothing was sent")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise CallTimedOutError(f"no answer within {timeout_s:g} s") from exc

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.is_alive() and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.join(timeout_s)
