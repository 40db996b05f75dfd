"""Starting a simulated terminal in a child process and waiting until it serves.

    handle = start_in_subprocess(accounts, journal, state_path=state)   # port picked freely
    handle.control().modules.MetaTrader5._sim.reset()                   # the test controls
    handle.stop()

Starting again on the same ``state_path`` is a restart: the terminal comes back as it
was (``MetaTrader5/_persist.py``).
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from switchyard.sim.launching import read_ready_port, wait_accepting
from switchyard.sim.mt5.options import (
    ALLOW_NON_LOOPBACK_FLAG,
    READY_PREFIX,
    apply_environment,
    sim_environment,
)


@dataclass
class SimTerminalProcess:
    """A simulated terminal running in a child process; ``stop()`` ends it."""

    process: "subprocess.Popen[str]"
    host: str
    port: int
    accounts_path: Path
    journal_path: Path | None
    state_path: Path | None = None

    def control(self) -> Any:
        """A fresh classic rpyc connection; ``.modules.MetaTrader5._sim`` is the control API."""
        import rpyc

        return rpyc.classic.connect(self.host, self.port)

    def journal(self) -> list[dict[str, Any]]:
        """The journal's records so far (empty without a journal)."""
        if self.journal_path is None or not self.journal_path.exists():
            return []
        lines = self.journal_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def command(
    accounts_path: Path,
    journal_path: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    symbols: Sequence[str] | None = None,
    login_delay_s: float = 0.0,
    login_jitter_s: float = 0.0,
    seed: int = 0,
    frozen_time_s: float | None = None,
    state_path: Path | None = None,
    allow_non_loopback: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of ``python -m switchyard.sim.mt5.server`` for these options.

    Without ``state_path`` the terminal lives in memory only (``--no-state``).
    """
    env = dict(os.environ)
    apply_environment(
        env,
        sim_environment(
            accounts_path,
            journal_path,
            symbols=symbols,
            login_delay_s=login_delay_s,
            login_jitter_s=login_jitter_s,
            seed=seed,
            frozen_time_s=frozen_time_s,
            state_path=state_path,
        ),
    )
    argv = [sys.executable, "-m", "switchyard.sim.mt5.server", "--host", host, "--port", str(port)]
    if state_path is None:
        argv.append("--no-state")
    if allow_non_loopback:
        argv.append(ALLOW_NON_LOOPBACK_FLAG)
    return argv, env


def start_in_subprocess(
    accounts_path: Path,
    journal_path: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    symbols: Sequence[str] | None = None,
    login_delay_s: float = 0.0,
    login_jitter_s: float = 0.0,
    seed: int = 0,
    frozen_time_s: float | None = None,
    state_path: Path | None = None,
    allow_non_loopback: bool = False,
    startup_timeout_s: float = 20.0,
) -> SimTerminalProcess:
    """Start ``python -m switchyard.sim.mt5.server`` and return once its port accepts clients.

    ``port=0`` lets the server pick a free port, read back from its ready line. A
    ``state_path`` that exists is restored: start again on the same file to restart.
    """
    argv, env = command(
        accounts_path,
        journal_path,
        host=host,
        port=port,
        symbols=symbols,
        login_delay_s=login_delay_s,
        login_jitter_s=login_jitter_s,
        seed=seed,
        frozen_time_s=frozen_time_s,
        state_path=state_path,
        allow_non_loopback=allow_non_loopback,
    )
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
        argv, env=env, stdout=subprocess.PIPE, text=True
    )
    handle = SimTerminalProcess(process, host, port, accounts_path, journal_path, state_path)
    deadline = time.monotonic() + startup_timeout_s
    try:
        handle.port = read_ready_port(process, READY_PREFIX, "simulated MT5 terminal", deadline)
        wait_accepting(host, handle.port, process, deadline)
    except BaseException:
        handle.stop()
        raise
    return handle
