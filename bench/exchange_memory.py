"""(a) Worker RSS holding 1,000 exchange accounts, against one ccxt instance per account
loading its own markets (the naive way), side by side, each in a fresh process.

Both hold 1,000 ccxt.async_support instances (Binance, Bybit, OKX in turn), each with its
own keys, and make one signed call per account (fetch_balance) against the simulated
exchange. The worker's way (worker.venues.exchange.clients): markets loaded once per
exchange and shared by reference, one HTTP session per exchange, one budget. The naive
way: each instance loads its own markets and opens its own HTTP session.

The simulator lists 2-4 markets per exchange; real ones list thousands (Binance ~2,000
spot pairs), and that is where the copies cost. So after loading, each exchange's market
table is widened to MARKETS synthetic markets (clones of a real parsed market) before the
accounts take it: by reference in the worker's way, as its own copy (`set_markets`, what
an instance that loaded its own markets holds) in the naive way.

    uv run python bench/exchange_memory.py [ACCOUNTS] [MARKETS]
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import subprocess
import sys
import uuid
from typing import Any

from exchange_common import bench_keys, rss_mb, start_sim

ACCOUNTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
MARKETS = int(sys.argv[2]) if len(sys.argv) > 2 else 2000


def widened(markets: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """`count` parsed markets cloned from the real ones (distinct symbols and ids)."""
    real = list(markets.values())
    out = []
    for n in range(count):
        m = copy.deepcopy(real[n % len(real)])
        base = f"X{n:05d}"
        m["base"], m["baseId"] = base, base
        m["symbol"] = m["symbol"].replace(m["symbol"].split("/")[0], base, 1)
        m["id"] = f"{base}{n}"
        out.append(m)
    return out


def worker_way(sim_url: str, keys: list[dict[str, Any]]) -> dict[str, Any]:
    from switchyard.domain import AccountId, Venue
    from switchyard.sim.exchange.demo import ccxt_urls
    from switchyard.vault import KeyRing, Vault, generate_key
    from worker.venue import Account
    from worker.venues.exchange.clients import Clients, ClientSettings
    from worker.venues.exchange.exchanges import PROFILES
    from worker.venues.exchange.loop import LoopThread

    vault = Vault(KeyRing.parse(generate_key()))
    loop = LoopThread()
    loop.start()
    clients = Clients(
        loop,
        vault,
        ClientSettings(
            api_urls=ccxt_urls(sim_url), timeout_s=10, max_clients=10_000, rate_scale=0, egress=""
        ),
    )
    before = rss_mb()
    widened_done: set[str] = set()
    for key in keys:
        account_id = AccountId(uuid.uuid4())
        secret = {"api_key": key["api_key"], "api_secret": key["api_secret"]}
        if "passphrase" in key:
            secret["passphrase"] = key["passphrase"]
        account = Account(
            id=account_id, user_id=uuid.uuid4(), venue=Venue(key["exchange"]), login="x",
            server=None, environment=key.get("environment", "live"), status="verified",
            is_active=True, ciphertext=vault.seal(account_id, secret).ciphertext,
        )  # fmt: skip
        client = clients.client(account, PROFILES[account.venue])
        if key["exchange"] not in widened_done:
            loop.call(clients.markets(client), 30)
            template = next(
                t for (x, _, _), t in clients._templates.items() if x == key["exchange"]
            )
            template.set_markets(widened(template.markets, MARKETS))
            client.exchange.markets = None
            widened_done.add(key["exchange"])
        loop.call(clients.markets(client), 30)
        loop.call(client.exchange.fetch_balance(), 30)
    gc.collect()
    after = rss_mb()
    markets = sum(len(t.markets) for t in clients._templates.values())
    clients.close_all()
    loop.stop()
    return {"rss_mb": after, "baseline_mb": before, "markets_per_exchange": markets // 3}


def naive_way(sim_url: str, keys: list[dict[str, Any]]) -> dict[str, Any]:
    import ccxt.async_support as ccxt

    from switchyard.sim.exchange.demo import ccxt_urls
    from worker.venues.exchange.exchanges import PROFILES

    profiles = {p.ccxt_id: p for p in PROFILES.values()}
    urls = ccxt_urls(sim_url)

    async def run() -> tuple[float, float]:
        before = rss_mb()
        instances = []
        big: dict[str, list[dict[str, Any]]] = {}
        for key in keys:
            profile = profiles[key["exchange"]]
            config = {
                "apiKey": key["api_key"],
                "secret": key["api_secret"],
                "options": copy.deepcopy(dict(profile.options)),
                "enableRateLimit": False,
            }
            if "passphrase" in key:
                config["password"] = key["passphrase"]
            exchange = getattr(ccxt, profile.ccxt_id)(config)
            exchange.has = {**exchange.has, **profile.has}
            profile.environments[key.get("environment", "live")](exchange)
            exchange.urls["api"] = dict(urls[profile.ccxt_id])
            await exchange.load_markets()
            if key["exchange"] not in big:
                big[key["exchange"]] = widened(exchange.markets, MARKETS)
            exchange.set_markets(copy.deepcopy(big[key["exchange"]]))  # its own copy
            await exchange.fetch_balance()
            instances.append(exchange)
        gc.collect()
        after = rss_mb()
        for exchange in instances:
            exchange.timeout_on_exit = 0
            await exchange.close()
        return before, after

    before, after = asyncio.run(run())
    return {"rss_mb": after, "baseline_mb": before}


def child(way: str, sim_url: str) -> None:
    keys = bench_keys(ACCOUNTS)
    result = worker_way(sim_url, keys) if way == "worker" else naive_way(sim_url, keys)
    print(json.dumps(result))


def main() -> None:
    if len(sys.argv) > 3:  # a child: argv = [script, accounts, markets, way, url]
        child(sys.argv[3], sys.argv[4])
        return
    sim = start_sim(bench_keys(ACCOUNTS))
    try:
        results = {}
        for way in ("worker", "naive"):
            done = subprocess.run(
                [sys.executable, __file__, str(ACCOUNTS), str(MARKETS), way, sim.url],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            results[way] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        sim.stop()
    w, n = results["worker"], results["naive"]
    print(f"{ACCOUNTS} accounts, {MARKETS} markets per exchange (3 exchanges)")
    print(f"  worker (shared markets, sessions):  RSS {w['rss_mb']:7.1f} MB "
          f"(process before the accounts {w['baseline_mb']:.1f} MB)")  # fmt: skip
    print(f"  one ccxt instance per account:      RSS {n['rss_mb']:7.1f} MB "
          f"(process before the accounts {n['baseline_mb']:.1f} MB)")  # fmt: skip
    print(f"  ratio naive / worker: {n['rss_mb'] / w['rss_mb']:.1f}x total, "
          f"{(n['rss_mb'] - n['baseline_mb']) / max(w['rss_mb'] - w['baseline_mb'], 0.1):.1f}x "
          "for the accounts themselves")  # fmt: skip


if __name__ == "__main__":
    main()
