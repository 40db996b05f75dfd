"""The package stands alone, its control endpoint is guarded, and its demo keys work."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from switchyard.sim.exchange.accounts import AccountsFileError, parse_keys
from switchyard.sim.exchange.app import SimApp, Simulator
from switchyard.sim.exchange.demo import ccxt_urls, demo_key_entries, demo_keys
from switchyard.sim.exchange.server import start_in_subprocess, write_demo_accounts
from tests.sim_exchange.helpers import OPTIONS, raises_exactly, run, using

REPO = Path(__file__).resolve().parents[2]

BLOCKER = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    # switchyard.sim.launching: the simulators' shared start-up (stdlib only)
    ALLOWED = ("switchyard", "switchyard.sim", "switchyard.sim.exchange",
               "switchyard.sim.launching")

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            inside = name in ALLOWED or name.startswith("switchyard.sim.exchange.")
            if top in ("functions", "worker") or (top == "switchyard" and not inside):
                raise ImportError(f"blocked for this test: {name}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    """
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("module", ["functions.app", "worker.queue", "switchyard.settings"])
def test_the_blocker_really_blocks(module):
    done = _python(BLOCKER + f"import {module}\n")
    assert done.returncode != 0
    assert f"blocked for this test: {module.split('.')[0]}" in done.stderr


def test_the_package_imports_nothing_of_the_product():
    code = BLOCKER + textwrap.dedent(
        """
        import switchyard.sim.exchange as package
        names = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
        for name in names:
            importlib.import_module(name)
        from switchyard.sim.exchange.server import main
        main(["--print-demo"])
        print("IMPORTED", ",".join(sorted(names)))
        """
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    imported = done.stdout.split("IMPORTED ", 1)[1].split()[0].split(",")
    modules = ("app", "binance", "bybit", "okx", "coinbase", "engine", "server", "control", "demo")
    for module in modules:
        assert f"switchyard.sim.exchange.{module}" in imported
    assert '"exchange": "okx"' in done.stdout  # main(["--print-demo"]) ran


def test_demo_keys_cover_every_venue_and_every_permission_kind():
    entries = demo_key_entries()
    for exchange in ("binance", "bybit", "okx", "coinbase"):
        assert any(
            e["exchange"] == exchange and e["permissions"] == ["read", "trade"] for e in entries
        )
    assert any("withdraw" in e["permissions"] for e in entries)
    assert any(e["permissions"] == ["read"] for e in entries)
    assert all(e["passphrase"] for e in entries if e["exchange"] == "okx")
    assert all({"exchange", "api_key", "api_secret", "permissions"} <= set(e) for e in entries)
    urls = ccxt_urls("http://127.0.0.1:18900/")
    assert set(urls["binance"]) == {"public", "private", "sapi"}
    assert set(urls["bybit"]) == {"public", "private"}
    assert urls["okx"] == {"rest": "http://127.0.0.1:18900/okx"}
    assert urls["coinbase"] == {"rest": "http://127.0.0.1:18900/coinbase"}
    coinbase = [e for e in entries if e["exchange"] == "coinbase"]
    assert {tuple(e["permissions"]) for e in coinbase} == {
        ("read", "trade"),
        ("read", "trade", "withdraw"),
        ("read",),
    }
    assert all(e["api_key"].startswith("organizations/") for e in coinbase)
    assert all(e["api_secret"].startswith("-----BEGIN EC PRIVATE KEY-----") for e in coinbase)


def test_every_demo_key_opens_its_account(tmp_path):
    import ccxt.async_support as ccxt

    accounts = write_demo_accounts(tmp_path / "accounts.json")
    with start_in_subprocess(accounts) as sim:
        for key in demo_keys():
            settings = {"apiKey": key.api_key, "secret": key.api_secret, "password": key.passphrase}
            settings["options"] = OPTIONS[key.exchange]
            settings["has"] = {"fetchCurrencies": False}
            exchange = getattr(ccxt, key.exchange)(settings)
            if key.environment == "demo":
                exchange.set_sandbox_mode(True)
            exchange.urls["api"] = sim.ccxt_urls()[key.exchange]
            balance = run(using(exchange, lambda e: e.fetch_balance()))
            assert balance["USDT"]["total"] == 10000, key.label


def test_control_is_refused_unless_faults_are_enabled(tmp_path):
    import httpx

    accounts = write_demo_accounts(tmp_path / "accounts.json")
    with start_in_subprocess(accounts) as sim:
        health = httpx.get(f"{sim.url}/_sim/health", timeout=5)
        assert health.json() == {"ok": True, "faults_enabled": False}
        refused = httpx.post(f"{sim.url}/_sim/faults", json={"kind": "hold"}, timeout=5)
        assert refused.status_code == 403
        assert "--enable-faults" in refused.json()["error"]


def _in_process(sim: Simulator, client_host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=SimApp(sim), client=(client_host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://sim")


def test_control_answers_loopback_clients_only():
    sim = Simulator.create(demo_keys(), faults_enabled=True)

    async def post(host: str) -> int:
        async with _in_process(sim, host) as http:
            return (await http.post("/_sim/faults", json={"kind": "hold"})).status_code

    assert run(post("192.0.2.7")) == 403
    assert sim.faults.armed == []
    assert run(post("127.0.0.1")) == 200
    assert [str(f.kind) for f in sim.faults.armed] == ["hold"]


def test_unknown_venues_and_paths_are_not_found():
    sim = Simulator.create(demo_keys())

    async def statuses() -> tuple[int, int, str]:
        async with _in_process(sim) as http:
            venue = await http.get("/kraken/0/public/Time")
            path = await http.get("/binance/api/v3/nothing")
            okx = await http.get("/okx/api/v5/public/time")
            return venue.status_code, path.status_code, okx.json()["code"]

    assert run(statuses()) == (404, 404, "0")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([{"exchange": "kraken", "api_key": "k", "api_secret": "s"}], "exchange must be one of"),
        ([{"exchange": "okx", "api_key": "k", "api_secret": "s"}], "needs its passphrase"),
        (
            [{"exchange": "bybit", "api_key": "k", "api_secret": "s", "permissions": ["admin"]}],
            "permissions",
        ),
        (
            [{"exchange": "bybit", "api_key": "k", "api_secret": "s", "balances": {"USDT": "-1"}}],
            "negative",
        ),
        ({"accounts": []}, "list of keys"),
    ],
)
def test_a_malformed_accounts_file_is_refused_with_a_reason(document, message):
    with raises_exactly(AccountsFileError, match=message):
        parse_keys(document)


def test_the_command_refuses_a_malformed_accounts_file(tmp_path):
    bad = tmp_path / "accounts.json"
    bad.write_text(json.dumps([{"exchange": "bybit"}]), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "switchyard.sim.exchange.server",
            "--accounts",
            str(bad),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "'api_key' must be a non-empty string" in done.stderr
