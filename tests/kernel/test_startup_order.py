"""The worker and the functions check their configuration before anything else.

A missing key or a malformed URL stops them at once with the variable's name — never a
traceback, never the value — and before an embedded database is created or a
connection opened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchyard.vault import generate_key

REPO = Path(__file__).resolve().parents[2]

COMMANDS = {
    "worker": [sys.executable, "-m", "worker"],
    "functions": [sys.executable, "-m", "switchyard", "functions", "--port", "0"],
}


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Short: were an embedded Postgres started here, its socket path would have to fit.
    path = Path(tempfile.mkdtemp(prefix="sy-cfg-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(command: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHYARD_", "SUPABASE_"))}
    base.pop("DATABASE_URL", None)
    return subprocess.run(
        COMMANDS[command],
        cwd=REPO,
        env=base | {"SWITCHYARD_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_encryption_keys_stops_before_an_embedded_database_is_created(
    command: str, data_dir: Path
) -> None:
    done = run(command, data_dir)
    assert done.returncode == 2, done.stderr
    assert "SWITCHYARD_ENCRYPTION_KEYS is not set" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (data_dir / "pgdata").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_malformed_database_url_is_named_and_never_echoed(command: str, data_dir: Path) -> None:
    url = "postgresql://owner:hunter2-secret@db.example.invalid:5432/app?no_such_option=1"
    done = run(command, data_dir, DATABASE_URL=url, SWITCHYARD_ENCRYPTION_KEYS=generate_key())
    assert done.returncode == 2, done.stderr
    assert "DATABASE_URL: not a PostgreSQL connection string" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    assert not (data_dir / "pgdata").exists()


def test_a_malformed_functions_database_url_is_named_and_never_echoed(data_dir: Path) -> None:
    done = run(
        "functions",
        data_dir,
        SWITCHYARD_FUNCTIONS_DATABASE_URL="host=db user=fn password='hunter2-secret",
        SWITCHYARD_ENCRYPTION_KEYS=generate_key(),
    )
    assert done.returncode == 2, done.stderr
    assert "SWITCHYARD_FUNCTIONS_DATABASE_URL: not a PostgreSQL connection string" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_a_supabase_url_that_is_not_a_url_stops_the_functions(data_dir: Path) -> None:
    done = run(
        "functions",
        data_dir,
        SUPABASE_URL="proj.supabase.co",
        SWITCHYARD_ENCRYPTION_KEYS=generate_key(),
    )
    assert done.returncode == 2, done.stderr
    assert "SUPABASE_URL: not an http(s) URL" in done.stderr
    assert not (data_dir / "pgdata").exists()
