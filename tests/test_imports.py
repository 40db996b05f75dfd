"""The tree's import rules (pyproject.toml `[tool.importlinter]`) hold, and would catch a break.

- the kernel (`switchyard/`) imports neither `functions` nor `worker`; only the command
  (`switchyard/cli.py`) composes them;
- `functions` never imports `worker`, nor a broker library;
- only the MT5 adapter (`worker/venues/mt5`) and the MT5 simulator import rpyc/mt5linux;
- the trading flow (`worker/trading`, the queue, the lanes) knows venues only through
  `worker/venue.py`: it imports no adapter and no venue library;
- the local stand-ins (`switchyard/sim/`) import nothing of the product.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_import_contract_is_kept():
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ", 0 broken." in done.stdout


def test_the_stand_ins_contract_names_every_kernel_module():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    [contract] = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c.get("source_modules") == ["switchyard.sim"]
    ]
    kernel = {
        f"switchyard.{p.stem}"
        for p in (REPO / "switchyard").glob("*.py")
        if not p.name.startswith("__")
    } | {f"switchyard.{p.name}" for p in (REPO / "switchyard").iterdir() if p.is_dir()} - {
        "switchyard.sim",
        "switchyard.__pycache__",
    }
    assert kernel <= set(contract["forbidden_modules"]), "a kernel module is missing"


def test_a_forbidden_import_breaks_the_suite(tmp_path):
    """Copy the tree, add `import worker` to a function module: the contract must break."""
    copy = tmp_path / "tree"
    ignore = shutil.ignore_patterns(".venv", ".git", ".switchyard", "__pycache__", "*.pyc")
    for name in ("switchyard", "functions", "worker"):
        shutil.copytree(REPO / name, copy / name, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    health = copy / "functions" / "api" / "routes" / "health.py"
    health.write_text(health.read_text() + "\nimport worker.queue  # forbidden\n")
    done = lint_imports(copy)
    assert done.returncode != 0
    assert "the functions never import the worker BROKEN" in done.stdout
    assert "functions.api.routes.health -> worker.queue" in done.stdout
