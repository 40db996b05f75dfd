"""`switchyard dev` comes up with nothing but the project and runs the whole loop.

The README's curl walk-through, as a test: embedded Postgres, migrations, the simulated
terminal, the functions and the worker start; a local token connects a demo MT5
account, switches to it and places a trade that lands on that login at the terminal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from switchyard.db import connect
from switchyard.vault import KeyRing
from tests.helpers import free_port


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
    port, mt5_port, dashboard_port = free_port(), free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchyard", "dev", "--port", str(port), "--mt5-port", str(mt5_port),
         "--mt5-login-delay-ms", "50", "--exchange-port", str(free_port()),
         "--auth-port", str(free_port()), "--dashboard-port", str(dashboard_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(short_dir / "dev.json", proc, timeout_s=120)
        facts = json.loads((short_dir / "dev.json").read_text())
        assert facts["embedded_database"] is True
        assert facts["functions_url"] == f"http://127.0.0.1:{port}"
        assert facts["mt5_terminals"] == [f"127.0.0.1:{mt5_port}"]
        assert facts["functions_database_user"] == "switchyard_functions"
        # the local stand-ins: Supabase Auth (its JWKS, its anon key) and the exchange
        assert facts["anon_key"].count(".") == 2
        jwks = httpx.get(facts["supabase_url"] + "/auth/v1/.well-known/jwks.json", timeout=10)
        assert [k["alg"] for k in jwks.json()["keys"]] == ["ES256"]
        exchange = facts["exchange_simulator"]
        assert set(exchange["ccxt_urls"]) == {"binance", "bybit", "okx", "coinbase"}
        assert set(exchange["ccxt_urls"]["binance"]) == {"public", "private", "sapi"}
        assert {k["exchange"] for k in exchange["demo_keys"]} == {
            "binance",
            "bybit",
            "okx",
            "coinbase",
        }
        assert httpx.get(exchange["url"] + "/_sim/health", timeout=10).status_code == 200
        # the dashboard: its static files, a config pointing at this stack, CORS for its origin
        assert facts["dashboard_url"] == f"http://127.0.0.1:{dashboard_port}"
        config = httpx.get(facts["dashboard_url"] + "/config.json", timeout=10).json()
        assert config == {
            "supabase_url": facts["supabase_url"],
            "anon_key": facts["anon_key"],
            "functions_url": facts["functions_url"],
        }
        assert "<title>switchyard</title>" in httpx.get(facts["dashboard_url"], timeout=10).text
        preflight = httpx.options(
            facts["functions_url"] + "/v1/accounts",
            headers={"Origin": facts["dashboard_url"], "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"},
            timeout=10,
        )  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == facts["dashboard_url"]
        with connect(facts["database_url"], autocommit=True) as conn:
            applied = conn.execute(
                "select count(*) as n from supabase_migrations.schema_migrations"
            ).fetchone()
            assert applied["n"] >= 1
        keys = short_dir / "encryption_keys"
        assert oct(keys.stat().st_mode & 0o777) == "0o600"
        KeyRing.parse(keys.read_text())

        token = subprocess.run(
            [sys.executable, "-m", "switchyard", "token", "newcomer@example.com"],
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

            # The README's exchange example: a demo key of the simulated exchange, a trade.
            keys_by_label = {k["label"]: k for k in exchange["demo_keys"]}
            bybit = keys_by_label["bybit-trade"]
            connected = http.post("/v1/accounts", json={
                "kind": "exchange", "exchange": "bybit", "name": "Bybit demo",
                "api_key": bybit["api_key"], "api_secret": bybit["api_secret"],
                "environment": bybit["environment"],
            })  # fmt: skip
            assert connected.status_code == 201, connected.text
            body = connected.json()
            assert body["status"] == "verified"
            assert body["permissions"]["trade"] is True
            assert body["permissions"]["withdraw"] is False
            assert bybit["api_key"] not in connected.text
            assert bybit["api_secret"] not in connected.text
            exchange_account = body["id"]
            withdraw = keys_by_label["bybit-withdraw"]
            refused = http.post("/v1/accounts", json={
                "kind": "exchange", "exchange": "bybit", "name": "can withdraw",
                "api_key": withdraw["api_key"], "api_secret": withdraw["api_secret"],
                "environment": withdraw["environment"],
            })  # fmt: skip
            assert refused.status_code == 422, refused.text
            assert "withdraw" in refused.json()["detail"]
            assert withdraw["api_secret"] not in refused.text
            wrong = http.post("/v1/accounts", json={
                "kind": "exchange", "exchange": "bybit", "name": "wrong secret",
                "api_key": withdraw["api_key"], "api_secret": "not-the-secret",
                "environment": withdraw["environment"],
            })  # fmt: skip
            assert wrong.status_code == 422, wrong.text
            assert "not-the-secret" not in wrong.text
            listed = http.get("/v1/accounts").json()
            assert [a["name"] for a in listed if a["kind"] == "exchange"] == ["Bybit demo"]
            crypto = http.post(
                "/v1/trades", headers={"Idempotency-Key": "first-crypto-trade"},
                json={"account_id": exchange_account, "symbol": "BTC/USDT", "side": "buy",
                      "type": "market", "volume": "0.01"},
            )  # fmt: skip
            assert crypto.status_code == 201, crypto.text
            assert crypto.json()["fill"]["status"] == "filled"
            ledger = [
                json.loads(line) for line in Path(exchange["ledger"]).read_text().splitlines()
            ]
            assert [(e["api_key"], e["symbol"], e["amount"]) for e in ledger] == [
                (bybit["api_key"], "BTCUSDT", "0.01")
            ]
        with connect(facts["database_url"], autocommit=True) as conn:
            logins = conn.execute(
                "select distinct usename::text as login from pg_stat_activity "
                "where application_name like 'switchyard-functions%'"
            ).fetchall()
        # the functions served all of that through their own role, never the service login
        assert [r["login"] for r in logins] == ["switchyard_functions"]
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
