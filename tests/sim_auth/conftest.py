"""A stand-in per test on the per-test database and a fresh data dir.

Most tests run the stand-in's real ASGI app under uvicorn in a thread of the test process
(real HTTP on a free port, no per-test interpreter start-up); the tests of the process
itself (test_process.py) use `start_in_subprocess` as `switchyard dev` will. A server
thread that dies fails the test that owned it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from switchyard.sim.auth import config as cfg
from switchyard.sim.auth import keys
from switchyard.sim.auth.app import build_app
from switchyard.sim.auth.server import bind
from tests.sim_auth.helpers import close_clients


@dataclass
class ThreadedAuth:
    """A stand-in served from a thread; the same face as server.AuthProcess."""

    host: str
    port: int
    data_dir: Path
    server: uvicorn.Server = field(repr=False)
    thread: threading.Thread = field(repr=False)
    failures: list[BaseException] = field(default_factory=list, repr=False)

    @property
    def supabase_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def anon_key(self) -> str:
        return (self.data_dir / keys.ANON_KEY_FILE).read_text(encoding="utf-8").strip()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the stand-in's server thread did not stop"
        if self.failures:
            raise AssertionError("the stand-in's server thread died") from self.failures[0]


def serve_in_thread(db_url: str, data_dir: Path, **settings: Any) -> ThreadedAuth:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = cfg.AuthConfig(
        database_url=db_url, public_url=f"http://127.0.0.1:{port}", data_dir=data_dir, **settings
    )
    server = uvicorn.Server(uvicorn.Config(build_app(config), log_level="warning"))
    failures: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:
            failures.append(exc)
            raise

    thread = threading.Thread(target=run, name=f"sim-auth:{port}", daemon=True)
    handle = ThreadedAuth("127.0.0.1", port, data_dir, server, thread, failures)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            handle.stop()
            raise RuntimeError("the stand-in did not start")
        time.sleep(0.01)
    return handle


StartAuth = Callable[..., ThreadedAuth]


@pytest.fixture
def start_auth(db_url: str, tmp_path: Path) -> Iterator[StartAuth]:
    """A factory: start_auth(**AuthConfig settings) → a running stand-in."""
    started: list[ThreadedAuth] = []

    def start(**settings: Any) -> ThreadedAuth:
        handle = serve_in_thread(db_url, tmp_path / "data", **settings)
        started.append(handle)
        return handle

    yield start
    close_clients()
    for handle in started:
        handle.stop()


@pytest.fixture
def auth(start_auth: StartAuth) -> ThreadedAuth:
    """A stand-in with the default settings."""
    return start_auth()


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    close_clients()
