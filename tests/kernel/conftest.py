"""Fixtures of the kernel's and the command's tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A fresh directory under /tmp with a short path, removed after the test.

    An embedded Postgres puts its Unix socket in its data directory, and a socket path
    may not be longer than about 100 characters: pytest's tmp_path can be.
    """
    path = Path(tempfile.mkdtemp(prefix="sy-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
