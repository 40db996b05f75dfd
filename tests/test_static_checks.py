"""ruff and mypy (strict) are part of the test suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_finds_nothing():
    done = run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_code_is_ruff_formatted():
    done = run("ruff", "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_finds_nothing():
    done = run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_guard_of_the_mutation_exercise_still_finds_its_code():
    """Code that moves leaves its guard's mutation pointing at nothing: the exercise
    (`.ci/guard_mutations.py`, too long for the suite) would then report anchor-missing
    instead of testing the guard. Its anchor check takes a second."""
    done = subprocess.run(
        [sys.executable, str(REPO / ".ci" / "guard_mutations.py"), "--check-anchors"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "anchors found exactly once" in done.stdout
