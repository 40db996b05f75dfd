"""Child processes kept running: one that dies is started again, with exponential backoff.

`switchyard dev` runs the simulated terminal, the functions and the worker this way, so
a crashed worker is back in a second (its jobs are rescued when their leases end) while
the terminal and the database keep their state. Every death and every restart is a line
on stderr. A child that keeps dying quickly (``max_deaths`` within ``window_s``) is not
restarted again: ``ChildKeepsDyingError`` says which and why, and the caller stops.

    supervisor = Supervisor(RestartPolicy(), on_restart=write_pids)
    supervisor.start("worker", lambda: subprocess.Popen([...]))
    while not stopping.wait(0.2):
        supervisor.poll()          # restarts what died, when its backoff is over
    supervisor.stop()              # SIGTERM, a grace period, then SIGKILL
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from switchyard.errors import SwitchyardError

Launch = Callable[[], "subprocess.Popen[Any]"]


class ChildKeepsDyingError(SwitchyardError):
    """A child died too often too quickly to be restarted again."""


@dataclass(frozen=True, kw_only=True)
class RestartPolicy:
    #: The wait before the first restart; it doubles with each further recent death.
    first_delay_s: float = 1.0
    #: The longest wait between a death and the restart.
    max_delay_s: float = 30.0
    #: This many deaths within ``window_s`` and the child is given up on.
    max_deaths: int = 5
    window_s: float = 60.0

    def delay_s(self, recent_deaths: int) -> float:
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (recent_deaths - 1)))


def describe_exit(code: int) -> str:
    """``exited with code 1`` or ``was killed by SIGKILL (code -9)``."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} (code {code})"
    return f"exited with code {code}"


@dataclass
class Child:
    name: str
    launch: Launch
    process: subprocess.Popen[Any] | None = None
    #: Monotonic times of the deaths within the policy's window.
    deaths: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    restarts: int = 0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Supervisor:
    """Children started in order, restarted when they die, stopped in reverse order."""

    def __init__(
        self,
        policy: RestartPolicy | None = None,
        *,
        prefix: str = "switchyard dev",
        on_restart: Callable[[], None] | None = None,
        say: Callable[[str], None] = _stderr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self.prefix = prefix
        self.on_restart = on_restart
        self.say = say
        self.clock = clock
        self.children: list[Child] = []

    def start(self, name: str, launch: Launch) -> subprocess.Popen[Any]:
        process = launch()
        self.children.append(Child(name=name, launch=launch, process=process))
        return process

    def pids(self) -> dict[str, int | None]:
        """Each child's current pid (None while it waits to be restarted)."""
        return {c.name: c.process.pid if c.process else None for c in self.children}

    def restarts(self) -> dict[str, int]:
        return {c.name: c.restarts for c in self.children}

    def poll(self) -> None:
        """Notice deaths, restart children whose backoff is over; raise when one gives up."""
        restarted = False
        for child in self.children:
            now = self.clock()
            if child.process is not None:
                code = child.process.poll()
                if code is not None:
                    self._died(child, code, now)
            elif child.restart_at is not None and now >= child.restart_at:
                child.process = child.launch()
                child.restart_at = None
                child.restarts += 1
                self.say(f"{self.prefix}: {child.name} restarted (pid {child.process.pid})")
                restarted = True
        if restarted and self.on_restart is not None:
            self.on_restart()

    def _died(self, child: Child, code: int, now: float) -> None:
        assert child.process is not None
        pid, child.process = child.process.pid, None
        window = self.policy.window_s
        child.deaths.append(now)
        while child.deaths and now - child.deaths[0] > window:
            child.deaths.popleft()
        how = describe_exit(code)
        if len(child.deaths) >= self.policy.max_deaths:
            raise ChildKeepsDyingError(
                f"{child.name} (pid {pid}) {how}: it died {len(child.deaths)} times within "
                f"{window:g} s, so it is not restarted again (its own output above says why)"
            )
        delay = self.policy.delay_s(len(child.deaths))
        child.restart_at = now + delay
        self.say(
            f"{self.prefix}: {child.name} (pid {pid}) {how} at {time.strftime('%H:%M:%S')}; "
            f"restarting it in {delay:g} s"
        )

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM every running child (last started first), then SIGKILL after the grace."""
        running = [c.process for c in reversed(self.children) if c.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for child in self.children:
            child.restart_at = None
