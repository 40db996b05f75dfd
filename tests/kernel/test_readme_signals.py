"""The README's signals walk-through, run as it is written against `switchyard dev`.

The block under "## Signals" is read from README.md and run by bash (with `uv run
switchyard` as this interpreter's `-m switchyard`, and the functions' port of this
stack): two demo accounts subscribe to one channel with different sizing, one alert comes
in as text/plain, and each account's order lands once on its own login at the terminal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx

from tests.helpers import free_port
from tests.kernel.test_dev import wait_for

REPO = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Signals: TradingView webhooks and subscriptions", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the signals section has one sh block"
    return blocks[0]


def test_the_readme_signals_walkthrough_trades_once_on_each_subscribed_account(short_dir):
    assert shutil.which("jq"), "the README's walk-through uses jq: apt-get install jq"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SWITCHYARD_ENCRYPTION_KEYS", "SUPABASE_JWT_SECRET"}
    }
    env["SWITCHYARD_DATA_DIR"] = str(short_dir)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchyard", "dev", "--port", str(port),
         "--mt5-port", str(free_port()), "--mt5-login-delay-ms", "50",
         "--exchange-port", str(free_port()), "--auth-port", str(free_port()),
         "--dashboard-port", str(free_port())],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(short_dir / "dev.json", proc, timeout_s=120)
        facts = json.loads((short_dir / "dev.json").read_text())
        script = walkthrough()
        assert "API=http://127.0.0.1:8000\n" in script
        script = script.replace("API=http://127.0.0.1:8000", f"API={facts['functions_url']}")
        script = script.replace("uv run switchyard", f'"{sys.executable}" -m switchyard')
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=env | {"DATABASE_URL": facts["database_url"]},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert '{"queued":2,"skipped":0}' in ran.stdout
        # the same user as the script's token (you@example.com), to read the trades back
        mint = subprocess.run(
            [sys.executable, "-m", "switchyard", "token", "you@example.com"],
            env=env | {"DATABASE_URL": facts["database_url"]},
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {mint.stdout.strip()}"}
        deadline = time.monotonic() + 30
        while True:
            items = httpx.get(
                facts["functions_url"] + "/v1/trades", headers=headers, timeout=10
            ).json()["items"]
            if len(items) == 2 and all(t["status"] == "succeeded" for t in items):
                break
            assert time.monotonic() < deadline, items
            time.sleep(0.2)
        assert {t["kind"] for t in items} == {"signal"}
        assert len({t["signal_id"] for t in items}) == 1
        assert len({t["subscription_id"] for t in items}) == 2
        journal = Path(facts["mt5_simulator"]["journal"]).read_text().splitlines()
        executed = [json.loads(line) for line in journal]
        by_login = {e["login"]: e for e in executed}
        assert sorted(e["login"] for e in executed) == [5001001, 5001002]
        assert by_login[5001001]["volume"] == 0.1  # fixed
        assert Decimal(str(by_login[5001002]["volume"])) > 0  # 10% of bob's balance
        assert by_login[5001002]["sl"] > 0  # sl_pct 0.5 from the entry
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
