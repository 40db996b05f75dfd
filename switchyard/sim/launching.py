"""Starting a simulator in a subprocess: its ready line, then its listening socket.

Each simulator prints ``<PREFIX> <host> <port>`` once it is bound (port 0 picks a free
one), and its launcher waits for that line and, where the server accepts only after
printing it, for a first connection.
"""

from __future__ import annotations

import select
import socket
import subprocess
import time


def read_ready_port(process: subprocess.Popen[str], prefix: str, what: str, deadline: float) -> int:
    """The port of ``process``'s ready line; RuntimeError naming ``what`` if it exits first
    or the deadline (a ``time.monotonic()`` value) passes."""
    assert process.stdout is not None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            raise RuntimeError(f"{what} did not start (exit {process.poll()})")
        readable, _, _ = select.select([process.stdout], [], [], remaining)
        line = process.stdout.readline() if readable else ""
        if line.startswith(prefix):
            return int(line.split()[2])


def wait_accepting(host: str, port: int, process: subprocess.Popen[str], deadline: float) -> None:
    """Until ``host:port`` accepts a connection; the OSError if the process exits first or
    the deadline passes."""
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.02)
