"""The browser tests' helpers: finding Chromium, running the stack, watching a page.

Chromium is Debian's (`apt-get install chromium`; `.ci/run` installs it), driven by
Playwright for Python, which never downloads a browser of its own: it is launched by
`executable_path`. Without one the tests skip saying how to install it, and under
`CI=true` they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers import REPO, free_port

#: Flags for a headless Chromium on a machine that refuses outbound connections.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where each test's screenshots go (ignored by git).
ARTIFACTS = REPO / "artifacts" / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-battery-staple"


def chromium_executable() -> str | None:
    """SWITCHYARD_CHROMIUM, else Debian's chromium on the PATH or in /usr/bin."""
    for candidate in (
        os.environ.get("SWITCHYARD_CHROMIUM"),
        shutil.which("chromium"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_chromium() -> str:
    path = chromium_executable()
    if path:
        return path
    message = (
        "no Chromium for the browser tests: install Debian's package "
        "(`sudo apt-get install chromium`) or set SWITCHYARD_CHROMIUM to a Chromium binary"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the browser tests must run)")
    pytest.skip(message)


@dataclass
class Stack:
    """A running `switchyard dev` and what its dev.json says."""

    facts: dict[str, Any]
    proc: subprocess.Popen[bytes]
    log: Path
    data_dir: Path
    #: The service connection of the stack's database (as the worker has it).
    database_url: str = ""

    @property
    def dashboard(self) -> str:
        return str(self.facts["dashboard_url"])

    @property
    def functions(self) -> str:
        return str(self.facts["functions_url"])

    def demo(self, login: int) -> dict[str, Any]:
        [account] = [a for a in self.facts["mt5_simulator"]["demo_accounts"] if a["login"] == login]
        return dict(account)

    def origins(self) -> set[str]:
        return {origin(url) for url in (self.dashboard, self.functions, self.facts["supabase_url"])}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@contextmanager
def dev_stack(data_dir: Path, database_url: str, **env: str) -> Iterator[Stack]:
    """`switchyard dev` on `database_url` with free ports, until the block ends."""
    child_env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SWITCHYARD_ENCRYPTION_KEYS", "SUPABASE_JWT_SECRET", "SUPABASE_URL"}
    } | {"DATABASE_URL": database_url, "SWITCHYARD_DATA_DIR": str(data_dir), **env}
    log = data_dir / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "switchyard", "dev", "--port", str(free_port()),
             "--mt5-port", str(free_port()), "--mt5-login-delay-ms", "50",
             "--exchange-port", str(free_port()), "--auth-port", str(free_port()),
             "--dashboard-port", str(free_port())],
            env=child_env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        path = data_dir / "dev.json"
        deadline = time.monotonic() + 120
        while not path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"switchyard dev did not come up:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        yield Stack(json.loads(path.read_text()), proc, log, data_dir, database_url)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@dataclass
class Watched:
    """What a page did that a test should know about."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def calls(self, method: str, path_prefix: str) -> list[str]:
        return [
            url
            for m, url in self.requests
            if m == method and urlsplit(url).path.startswith(path_prefix)
        ]


def watch(page: Any, allowed_origins: set[str]) -> Watched:
    """Collect console errors, uncaught exceptions and every request the page makes."""
    seen = Watched()

    def on_console(message: Any) -> None:
        # An HTTP error status is logged by Chromium as "Failed to load resource": the
        # tests assert on the answers themselves. Anything else (a CSP refusal, a thrown
        # error) is a defect.
        if message.type == "error" and "Failed to load resource" not in message.text:
            seen.console_errors.append(message.text)

    def on_request(request: Any) -> None:
        seen.requests.append((request.method, request.url))
        if not request.url.startswith("data:") and origin(request.url) not in allowed_origins:
            seen.foreign.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
    page.on("request", on_request)
    return seen


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
