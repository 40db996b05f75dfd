"""The supervisor `switchyard dev` keeps its children with: real processes, no mocks."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from switchyard.supervisor import ChildKeepsDyingError, RestartPolicy, Supervisor, describe_exit

FAST = RestartPolicy(first_delay_s=0.01, max_delay_s=0.05, max_deaths=5, window_s=600)


def python(code: str) -> subprocess.Popen[Any]:
    return subprocess.Popen([sys.executable, "-c", code])


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def supervisor(lines: list[str]) -> Iterator[Supervisor]:
    sup = Supervisor(FAST, say=lines.append)
    yield sup
    sup.stop(grace_s=5)


def poll_until(supervisor: Supervisor, done: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        supervisor.poll()
        assert time.monotonic() < deadline, "the supervisor never got there"
        time.sleep(0.01)


def test_a_child_that_dies_is_restarted_with_a_new_pid_and_the_death_is_said(
    supervisor: Supervisor, lines: list[str]
) -> None:
    seen: list[dict[str, int | None]] = []
    supervisor.on_restart = lambda: seen.append(supervisor.pids())
    first = supervisor.start("sleeper", lambda: python("import time; time.sleep(600)"))
    first.kill()
    first.wait()
    poll_until(supervisor, lambda: supervisor.restarts()["sleeper"] == 1)
    (pid,) = supervisor.pids().values()
    assert pid is not None
    assert pid != first.pid
    death, restart = lines
    assert death.startswith(f"switchyard dev: sleeper (pid {first.pid}) was killed by SIGKILL")
    assert "restarting it in 0.01 s" in death
    assert restart == f"switchyard dev: sleeper restarted (pid {pid})"
    assert seen == [{"sleeper": pid}]  # told once, with the new pid


def test_a_child_that_keeps_dying_is_given_up_on_with_its_name_and_exit_code(
    supervisor: Supervisor, lines: list[str]
) -> None:
    supervisor.start("crasher", lambda: python("raise SystemExit(3)"))
    with pytest.raises(ChildKeepsDyingError) as caught:
        poll_until(supervisor, lambda: False)
    message = str(caught.value)
    assert "crasher" in message
    assert "exited with code 3" in message
    assert "died 5 times within 600 s" in message
    assert "not restarted again" in message
    deaths = [line for line in lines if "exited with code 3" in line]
    assert len(deaths) == 4  # the fifth death is the one that gives up
    assert supervisor.restarts()["crasher"] == 4


def test_the_backoff_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(first_delay_s=1, max_delay_s=30)
    assert [policy.delay_s(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_deaths_outside_the_window_are_forgotten(lines: list[str]) -> None:
    now = [0.0]
    policy = RestartPolicy(first_delay_s=1, max_delay_s=30, max_deaths=2, window_s=60)
    sup = Supervisor(policy, say=lines.append, clock=lambda: now[0])
    try:
        child = sup.start("flaky", lambda: python("raise SystemExit(1)"))
        for _ in range(4):  # one death every 61 s never counts two within the window
            child.wait()
            sup.poll()  # noticed: restart scheduled in 1 s (the first recent death)
            assert "restarting it in 1 s" in lines[-1]
            now[0] += 61
            sup.poll()  # restarted
            child = sup.children[0].process  # type: ignore[assignment]
            assert child is not None
    finally:
        sup.stop(grace_s=5)


def test_stop_terminates_every_child_and_cancels_pending_restarts(
    supervisor: Supervisor,
) -> None:
    running = supervisor.start("sleeper", lambda: python("import time; time.sleep(600)"))
    dead = supervisor.start("crasher", lambda: python("raise SystemExit(1)"))
    dead.wait()
    supervisor.poll()  # the crasher waits for its restart
    supervisor.stop(grace_s=5)
    assert running.poll() is not None
    supervisor.poll()
    time.sleep(0.1)
    supervisor.poll()
    assert supervisor.pids()["crasher"] is None  # never restarted after stop()


def test_exit_codes_are_described_by_signal_name_or_number() -> None:
    assert describe_exit(-9) == "was killed by SIGKILL (code -9)"
    assert describe_exit(2) == "exited with code 2"
