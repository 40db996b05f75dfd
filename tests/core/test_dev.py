"""`switchyard dev` comes up with nothing but the project and runs the whole loop.

The README's curl walk-through, as a test: embedded Postgres, migrations, the simulated
terminal, the functions and the worker start; a local token connects a demo MT5
account, switches to it and places a trade that lands on that login at the terminal.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from functions.core.db import connect
from functions.core.vault import KeyRing


@pytest.fixture
def short_dir():
    # The embedded Postgres puts its Unix socket in its data dir: keep the path short.
    path = Path(tempfile.mkdtemp(prefix="sy-dev-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(path: Path, proc: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"dev exited early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("dev.json did not appear")
        time.sleep(0.2)


def test_dev_runs_the_whole_loop_on_an_embedded_postgres_and_stops_on_ctrl_c(short_dir):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SWITCHYARD_ENCRYPTION_KEYS", "SUPABASE_JWT_SECRET"}
    }
    env["SWITCHYARD_DATA_DIR"] = str(short_dir)
    port, mt5_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "functions", "dev", "--port", str(port), "--mt5-port", str(mt5_port),
         "--mt5-login-delay-ms", "50"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(short_dir / "dev.json", proc, timeout_s=120)
        facts = json.loads((short_dir / "dev.json").read_text())
        assert facts["embedded_database"] is True
        assert facts["functions_url"] == f"http://127.0.0.1:{port}"
        assert facts["mt5_terminals"] == [f"127.0.0.1:{mt5_port}"]
        with connect(facts["database_url"], autocommit=True) as conn:
            applied = conn.execute(
                "select count(*) as n from supabase_migrations.schema_migrations"
            ).fetchone()
            assert applied["n"] >= 1
        keys = short_dir / "encryption_keys"
        assert oct(keys.stat().st_mode & 0o777) == "0o600"
        KeyRing.parse(keys.read_text())

        token = subprocess.run(
            [sys.executable, "-m", "functions", "token", "newcomer@example.com"],
            env=env | {"DATABASE_URL": facts["database_url"]},
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout.strip()  # fmt: skip
        demo = facts["mt5_simulator"]["demo_accounts"][0]
        with httpx.Client(base_url=facts["functions_url"], timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as http:  # fmt: skip
            connected = http.post("/v1/accounts", json={
                "kind": "mt5", "name": "demo", "login": demo["login"], "password": demo["password"],
                "server": demo["server"], "environment": "demo",
            })  # fmt: skip
            assert connected.status_code == 201, connected.text
            assert connected.json()["status"] == "verified"
            account_id = connected.json()["id"]
            switched = http.post(f"/v1/accounts/{account_id}/switch")
            assert switched.status_code == 200, switched.text
            assert switched.json()["is_default"] is True
            trade = http.post(
                "/v1/trades", headers={"Idempotency-Key": "first-trade"},
                json={"symbol": "EURUSD", "side": "buy", "type": "market", "volume": 0.1},
            )  # fmt: skip
            assert trade.status_code == 201, trade.text
            assert trade.json()["fill"]["status"] == "filled"
        journal = Path(facts["mt5_simulator"]["journal"]).read_text().splitlines()
        executed = [json.loads(line) for line in journal]
        assert [(e["login"], e["symbol"], e["volume"]) for e in executed] == [
            (demo["login"], "EURUSD", 0.1)
        ]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "switchyard dev is running" in out
    assert keys.read_text().strip() not in out + err
    assert demo["password"] not in err  # the children's logs never echo a credential
