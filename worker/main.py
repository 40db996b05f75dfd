"""`switchyard worker` / `python -m worker`: run the worker until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from switchyard.embedded import database_url
from switchyard.settings import Settings
from worker.config import check_configuration
from worker.process import Worker


def run(settings: Settings, args: argparse.Namespace | None = None) -> int:
    """Serve until told to stop: 0 after a clean stop, 1 if jobs had to be left to their
    leases, 3 (`EXIT_THREAD_DIED`) when a thread of the worker died."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
    )
    # The handlers first: a SIGTERM that arrives while the worker starts (a supervisor
    # stopping it at once) is a clean stop, not a death by signal.
    stopping = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        logging.getLogger(__name__).info("signal %d: finishing the jobs in hand", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Configuration next: a bad key ring must not start (or leave) an embedded database.
    check_configuration(settings)
    worker = Worker(settings, database_url(settings))
    worker.start()
    print(f"switchyard worker {worker.owner} is running", flush=True)
    return worker.serve(stopping)
