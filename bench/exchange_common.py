"""Shared by the exchange benchmarks: many keys on one simulated exchange."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from switchyard.sim.exchange.server import SimExchangeProcess, start_in_subprocess

EXCHANGES = ("binance", "bybit", "okx")


def bench_keys(count: int) -> list[dict[str, Any]]:
    """`count` trade-only keys, spread over the three exchanges, each its own account."""
    keys = []
    for n in range(count):
        exchange = EXCHANGES[n % 3]
        label = f"bench-{n}"
        if exchange == "binance":
            api_key = f"bench{n:06d}".ljust(64, "B")
        elif exchange == "bybit":
            api_key = f"bench{n:06d}".ljust(18, "Y")
        else:
            api_key = str(uuid.uuid5(uuid.NAMESPACE_URL, label))
        key: dict[str, Any] = {
            "exchange": exchange,
            "api_key": api_key,
            "api_secret": f"{label}-secret",
            "permissions": ["read", "trade"],
            "balances": {"USDT": "10000", "BTC": "1"},
            "account": label,
        }
        if exchange == "okx":
            key |= {"passphrase": f"{label}-pass", "environment": "demo"}
        keys.append(key)
    return keys


def start_sim(keys: list[dict[str, Any]]) -> SimExchangeProcess:
    root = Path(tempfile.mkdtemp(prefix="sy-bench-exchange-"))
    accounts = root / "accounts.json"
    accounts.write_text(json.dumps({"keys": keys}), encoding="utf-8")
    return start_in_subprocess(accounts, root / "ledger.jsonl", enable_faults=True)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
