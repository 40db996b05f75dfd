"""The functions import and serve with the broker libraries impossible to import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import httpx

from tests.functions.helpers import RECORDED
from tests.helpers import REPO, free_port

BLOCKED = ("ccxt", "mt5linux", "rpyc", "tenacity")

LAUNCHER = textwrap.dedent(
    f"""
    import sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {BLOCKED!r}:
                raise ImportError(f"blocked for this test: {{name}}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    from switchyard.cli import main
    main(sys.argv[1:])
    """
)


def test_blocker_really_blocks():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LAUNCHER.replace("from switchyard.cli import main\nmain(sys.argv[1:])", "")
            + "\nimport rpyc\n",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode != 0
    assert "blocked for this test: rpyc" in result.stderr


def test_functions_serve_without_ccxt_mt5linux_rpyc_tenacity(settings, functions_db_url, make_user):
    alice = make_user("alice@example.com")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "SWITCHYARD_FUNCTIONS_DATABASE_URL": functions_db_url,
        "SWITCHYARD_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
        "SUPABASE_JWT_SECRET": settings.supabase_jwt_secret.get_secret_value(),
        "SWITCHYARD_DATA_DIR": str(settings.data_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "functions", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # a liveness bound, generous for a loaded machine
        while True:
            try:
                health = httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the functions did not start"
                time.sleep(0.1)
        assert health.status_code == 200
        accounts = httpx.get(
            f"{url}/v1/accounts", headers={"authorization": f"Bearer {alice.token}"}, timeout=5
        )
        assert accounts.status_code == 200
        assert accounts.json() == []
        RECORDED.extend((str(r.url), r.text) for r in (health, accounts))
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells it
    assert process.returncode in (0, -15), output
    assert "Application shutdown complete" in output
    for name in BLOCKED:
        assert f"blocked for this test: {name}" not in output
