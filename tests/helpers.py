"""Helpers every test folder may use (each folder's own live in its `helpers.py`)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: The repository's root.
REPO = Path(__file__).resolve().parents[1]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago, below the ephemeral range.

    bind(0) hands out ports from the range the kernel also gives every outgoing
    connection (each test's Postgres and HTTP clients), so a port found that way can be
    some client's local port a moment later: CI's `switchyard dev` test once found its
    chosen port "in use". Ports below that range are never given out implicitly."""
    low = min(_ephemeral_low(), 65536)
    for _ in range(200):
        port = random.randrange(20000, max(low, 20001))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
