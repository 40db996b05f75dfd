"""The local stand-ins `switchyard dev` runs, and what it tells about each in dev.json.

Each stand-in is started as `python -m switchyard sim <name> ...` under the dev
supervisor (so a crashed one is restarted on the same port, with its state kept in its
folder of the data directory), and each contributes one entry to dev.json:

    mt5_simulator       the simulated MT5 terminal: address, journal, demo logins
    exchange_simulator  the simulated exchange: url, ccxt_urls, ledger, demo API keys
    supabase_url        the local Supabase Auth stand-in, with its `anon_key`
    dashboard_url       the web dashboard (not a stand-in: the product's own static
                        files, served as any static host would, see switchyard/dashboard.py)

Nothing here imports a stand-in's server code beyond its demo data: they run as
separate processes, exactly as they would for someone starting them by hand.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchyard.supervisor import Supervisor


@dataclass(frozen=True, slots=True, kw_only=True)
class Ports:
    mt5: int
    exchange: int
    auth: int


def _launch(argv: list[str], env: dict[str, str] | None = None) -> Any:
    # Our own modules; stdout carries only their ready lines, warnings go to stderr.
    return lambda: subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)  # noqa: S603


def _sim(name: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "switchyard", "sim", name, *options]


def _demo_label(trade_allowed: bool) -> str:
    if trade_allowed:
        return "can trade"
    return "read-only: connects and syncs, every order is refused (trade_allowed: false)"


def start_mt5(
    data_dir: Path, port: int, login_delay_s: float, supervisor: Supervisor
) -> dict[str, Any]:
    """The simulated MT5 terminal, its state kept in `<data dir>/sim-mt5/`."""
    from switchyard.sim.mt5.server import DEMO_ACCOUNTS, command, write_accounts

    sim_dir = data_dir / "sim-mt5"
    accounts = write_accounts(sim_dir / "accounts.json")
    argv, env = command(
        accounts, sim_dir / "journal.jsonl", host="127.0.0.1", port=port,
        login_delay_s=login_delay_s, state_path=sim_dir / "state.json",
    )  # fmt: skip
    supervisor.start("simulated MT5 terminal", _launch(argv, env))
    return {
        "address": f"127.0.0.1:{port}",
        "journal": str(sim_dir / "journal.jsonl"),
        "state": str(sim_dir / "state.json"),
        "demo_accounts": [
            {
                "login": a["login"],
                "password": a["password"],
                "server": a["server"],
                "name": a["name"],
                "balance": a["balance"],
                "currency": a["currency"],
                "trade_allowed": a.get("trade_allowed", True),
                "label": _demo_label(a.get("trade_allowed", True)),
            }
            for a in DEMO_ACCOUNTS
        ],
    }


def start_exchange(data_dir: Path, port: int, supervisor: Supervisor) -> dict[str, Any]:
    """The simulated exchange (Binance, Bybit, OKX, Coinbase) with its demo keys."""
    from switchyard.sim.exchange.demo import ccxt_urls, demo_key_entries
    from switchyard.sim.exchange.server import write_demo_accounts

    sim_dir = data_dir / "sim-exchange"
    accounts = write_demo_accounts(sim_dir / "accounts.json")
    ledger = sim_dir / "ledger.jsonl"
    argv = _sim(
        "exchange", "--host", "127.0.0.1", "--port", str(port),
        "--accounts", str(accounts), "--ledger", str(ledger),
    )  # fmt: skip
    supervisor.start("simulated exchange", _launch(argv))
    url = f"http://127.0.0.1:{port}"
    return {
        "url": url,
        "ccxt_urls": ccxt_urls(url),
        "ledger": str(ledger),
        "demo_keys": demo_key_entries(),
    }


def start_auth(
    data_dir: Path, port: int, database_url: str, supervisor: Supervisor
) -> dict[str, Any]:
    """The local Supabase Auth stand-in on `database_url`, its keys in `<data dir>/sim-auth/`."""
    url = f"http://127.0.0.1:{port}"
    argv = _sim(
        "auth", "--host", "127.0.0.1", "--port", str(port), "--public-url", url,
        "--data-dir", str(data_dir), "--database-url", database_url,
    )  # fmt: skip
    supervisor.start("local Supabase Auth", _launch(argv))
    return {"supabase_url": url}


def dashboard_origins(port: int) -> tuple[str, ...]:
    """The origins a browser gives the dashboard served on `port`: the functions allow both."""
    return (f"http://127.0.0.1:{port}", f"http://localhost:{port}")


def start_dashboard(
    data_dir: Path,
    port: int,
    supervisor: Supervisor,
    *,
    supabase_url: str,
    functions_url: str,
) -> dict[str, str]:
    """The dashboard's static files, with a config.json pointing at this stack."""
    from switchyard.dashboard import write_config

    config = write_config(
        data_dir / "dashboard" / "config.json",
        supabase_url=supabase_url,
        anon_key=anon_key(data_dir),
        functions_url=functions_url,
    )
    argv = [sys.executable, "-m", "switchyard", "dashboard", "--config", str(config),
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    supervisor.start("dashboard", _launch(argv))
    return {"url": f"http://127.0.0.1:{port}", "config": str(config)}


def anon_key(data_dir: Path) -> str:
    """The stand-in's legacy-style anon key (written by it once it started)."""
    from switchyard.sim.auth.keys import ANON_KEY_FILE

    return (data_dir / ANON_KEY_FILE).read_text(encoding="utf-8").strip()


def print_banner(facts: dict[str, Any], path: Path) -> None:
    mt5, exchange = facts["mt5_simulator"], facts["exchange_simulator"]
    print("switchyard dev is running (Ctrl-C to stop)")
    print(f"  database          {facts['database_url']}")
    print(f"  dashboard         {facts['dashboard_url']}  (open it in a browser; sign up there)")
    print(f"  functions         {facts['functions_url']}  (docs: {facts['openapi']})")
    print(f"  Supabase Auth     {facts['supabase_url']}  (local stand-in; anon key in dev.json)")
    print(f"  MT5 terminal      {mt5['address']}  (simulated)")
    print(f"  simulator state   {mt5['state']}  (kept across restarts)")
    print("  demo MT5 accounts (simulator only):")
    for account in mt5["demo_accounts"]:
        read_only = "" if account["trade_allowed"] else "  READ-ONLY: orders are refused"
        print(
            f"    login {account['login']}  password {account['password']}  "
            f"server {account['server']}  {account['balance']:,.0f} {account['currency']}"
            f"{read_only}"
        )
    print(f"  exchange          {exchange['url']}  (simulated Binance, Bybit, OKX, Coinbase)")
    print("  demo exchange API keys (simulator only; secrets in dev.json):")
    for key in exchange["demo_keys"]:
        rights = "+".join(key["permissions"])
        print(f"    {key['exchange']:8} {key['environment']:8} {key['label']:24} {rights}")
    print("  sign in: the dashboard, or uv run switchyard token you@example.com for curl")
    print(f"  facts written to  {path}", flush=True)
