"""The lanes' wake-up by venue: a notification names the venue of the jobs queued, and
wakes only the lanes that serve it (the listener, over a real LISTEN)."""

from __future__ import annotations

import threading
import time

from switchyard.db import Connection
from worker.retry import Backoff
from worker.wakeup import Listener, Wakeup


def test_a_venue_rings_only_its_lanes_and_everything_rings_all() -> None:
    wakeup = Wakeup()
    mt5, exchanges = ("mt5",), ("binance", "bybit", "okx")
    at_mt5, at_exchanges = wakeup.generation(mt5), wakeup.generation(exchanges)
    wakeup.ring("bybit")
    assert wakeup.generation(mt5) == at_mt5
    assert not wakeup.wait(at_mt5, 0.05, mt5)
    assert wakeup.wait(at_exchanges, 0.05, exchanges)
    at_mt5, at_exchanges = wakeup.generation(mt5), wakeup.generation(exchanges)
    wakeup.ring()
    assert wakeup.wait(at_mt5, 0.05, mt5)
    assert wakeup.wait(at_exchanges, 0.05, exchanges)


def test_a_waiting_lane_wakes_for_its_venue_at_once() -> None:
    wakeup = Wakeup()
    since = wakeup.generation(("mt5",))
    threading.Timer(0.1, wakeup.ring, args=("mt5",)).start()
    began = time.monotonic()
    assert wakeup.wait(since, 10, ("mt5",))
    assert time.monotonic() - began < 5


def test_the_listener_rings_the_venue_a_notification_names(db: Connection, db_url: str) -> None:
    wakeup, stop = Wakeup(), threading.Event()
    listener = Listener(db_url, wakeup, stop, Backoff(0.1, 1.0))
    listener.start()
    try:
        assert listener.listening.wait(10)
        assert wakeup.wait(0, 10)  # its ring on connecting (what was queued meanwhile)
        mt5, okx = wakeup.generation(("mt5",)), wakeup.generation(("okx",))
        db.execute("select pg_notify('switchyard_jobs', 'okx')")
        assert wakeup.wait(okx, 10, ("okx",))
        assert wakeup.generation(("mt5",)) == mt5  # the terminal's lanes slept on
        # no venue (or an older release's job id): every lane
        db.execute("select pg_notify('switchyard_jobs', 'f3b1c9e2-0000-4000-8000-000000000000')")
        assert wakeup.wait(mt5, 10, ("mt5",))
    finally:
        stop.set()
        listener.join(10)
