"""Helpers every test folder may use (each folder's own live in its `helpers.py`)."""

from __future__ import annotations

import socket
from pathlib import Path

#: The repository's root.
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
