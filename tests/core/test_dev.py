"""`switchyard dev` comes up with nothing but the project: embedded Postgres, schema, dev.json."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from functions.core.db import connect
from functions.core.vault import KeyRing


@pytest.fixture
def short_dir():
    # The embedded Postgres puts its Unix socket in its data dir: keep the path short.
    path = Path(tempfile.mkdtemp(prefix="sy-dev-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait_for(path: Path, proc: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"dev exited early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("dev.json did not appear")
        time.sleep(0.2)


def test_dev_comes_up_on_an_embedded_postgres_and_stops_on_ctrl_c(short_dir):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SWITCHYARD_ENCRYPTION_KEYS"}
    }
    env["SWITCHYARD_DATA_DIR"] = str(short_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "functions", "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(short_dir / "dev.json", proc, timeout_s=120)
        facts = json.loads((short_dir / "dev.json").read_text())
        assert facts["embedded_database"] is True
        with connect(facts["database_url"], autocommit=True) as conn:
            applied = conn.execute(
                "select count(*) as n from supabase_migrations.schema_migrations"
            ).fetchone()
            assert applied["n"] >= 1
            assert (
                conn.execute("select to_regclass('public.accounts') as t").fetchone()["t"]
                == "accounts"
            )
        # a development key ring was created once, kept private, and is well formed
        keys = short_dir / "encryption_keys"
        assert oct(keys.stat().st_mode & 0o777) == "0o600"
        KeyRing.parse(keys.read_text())
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "switchyard dev is running" in out
    assert keys.read_text().strip() not in out + err
