"""`switchyard worker` / `python -m worker`: run the worker until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from functions.core.embedded import database_url
from functions.core.settings import Settings
from worker.app import Worker


def run(settings: Settings, args: argparse.Namespace | None = None) -> int:
    """Serve until told to stop; 0 after a clean stop, 1 if jobs had to be left to leases."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
    )
    worker = Worker(settings, database_url(settings))
    stopping = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        logging.getLogger(__name__).info("signal %d: finishing the jobs in hand", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.start()
    print(f"switchyard worker {worker.owner} is running", flush=True)
    stopping.wait()
    return 0 if worker.shutdown() else 1
