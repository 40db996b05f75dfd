"""The HTTP functions and the shared core install and import without broker libraries."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKER_ONLY = ("ccxt", "mt5linux", "rpyc", "tenacity", "pgserver")

BLOCKER = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in {WORKER_ONLY!r}:
            raise ImportError(f'blocked: {{name}}', name=name)
sys.meta_path.insert(0, Block())
"""


def test_the_base_install_does_not_depend_on_broker_libraries():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"]).lower()
    assert not [name for name in WORKER_ONLY if name in base]
    worker = " ".join(project["optional-dependencies"]["worker"]).lower()
    assert "ccxt" in worker
    assert "mt5linux==0.2." in worker  # the 1.x line manages Docker containers


def test_the_shared_core_and_the_cli_import_with_broker_libraries_blocked():
    code = (
        BLOCKER
        + """
import switchyard.db, switchyard.vault, switchyard.migrate, switchyard.domain
import switchyard.embedded, switchyard.rotation, switchyard.tokens, switchyard.cli
import ccxt
"""
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    # Everything imported; only the deliberate `import ccxt` at the end failed.
    assert done.returncode == 1
    assert "ImportError: blocked: ccxt" in done.stderr
    assert done.stderr.count("Traceback") == 1


def test_the_worker_command_explains_the_missing_extra():
    code = BLOCKER + "from switchyard.cli import main\nmain(['worker'])\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "the worker needs switchyard[worker] installed" in done.stderr
