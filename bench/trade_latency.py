"""Per trade: switchyard's added latency over the bare venue call, side by side in one run.

    uv run python bench/trade_latency.py [--orders 100]

A scratch database (DATABASE_URL's server, else the embedded Postgres), `switchyard
functions` in its own process (real HTTP, uvicorn), one in-process worker at default
settings, two simulated MT5 terminals (one for the worker, one for the bare client, so
neither moves the other's login) and one simulated exchange. Each round makes, in turn:

1. **MT5, bare**: `account_info()`, `symbol_info_tick()` and `order_send()` of a market
   buy, then the same closing it, made directly with mt5linux's `MetaTrader5` client on
   a terminal already logged in: what a script trading its own terminal does. (The
   account is hedging, so every open is a position of its own: each round closes what
   it opened, and the account stays the same size.)
2. **MT5, through switchyard**: `POST /v1/trades?wait=10` of the same open, then its
   close (`"action": "close"`), timed at the client from the request to the 201 (JWT,
   the job's transaction, the worker woken by NOTIFY, claim, journal, the same three
   venue calls, the refresh of positions and deals that makes `GET /v1/positions` right
   at once, write-back, the functions woken by NOTIFY, the answer).
3. **Exchange, bare**: `create_order()` of a market buy, then a sell, on a warm ccxt
   instance (markets loaded) against the simulated exchange (Binance spot).
4. **Exchange, through switchyard**: the same through `POST /v1/trades?wait=10`.

Prints p50/p99 of each and the added latency (switchyard p50 - bare p50). The aim
(issue 13) is at most 6 ms added at p50. Rounds alternate the four, so the machine's
noise falls on all of them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import mt5linux
from exchange_common import bench_keys, start_sim
from worker_common import add_mt5_account, new_vault, scratch_database, start_functions

from switchyard.db import Connection, connect
from switchyard.settings import Settings, functions_url_from
from switchyard.sim.exchange.demo import ccxt_urls
from switchyard.sim.mt5.server import start_in_subprocess, write_accounts
from switchyard.tokens import ensure_user, mint_token
from switchyard.vault import fingerprint_api_key, mask_api_key
from worker.process import Worker

SERVER = "Bench-Demo"
LOGIN, PASSWORD = 51000, "bench-pw"
JWT_SECRET = "trade-latency-" + "q" * 40


def pct(samples_s: list[float], q: float) -> float:
    ordered = sorted(samples_s)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def add_exchange_account(conn: Connection, vault: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    user_id = ensure_user(conn, f"bench-x-{uuid.uuid4().hex[:6]}@example.com")
    row = conn.execute(
        "insert into public.accounts (user_id, kind, venue, name, login, environment,"
        " api_key_masked, status, verified_at, next_sync_at, next_verify_at) values"
        " (%s, 'exchange', %s, 'bench', %s, 'live', %s, 'verified', now(), 'infinity',"
        " 'infinity') returning id",
        (
            user_id,
            key["exchange"],
            fingerprint_api_key(key["api_key"]),
            mask_api_key(key["api_key"]),
        ),
    ).fetchone()
    assert row is not None
    sealed = vault.seal(row["id"], {"api_key": key["api_key"], "api_secret": key["api_secret"]})
    conn.execute(
        "insert into private.account_secrets (account_id, ciphertext, key_id) values (%s, %s, %s)",
        (row["id"], sealed.ciphertext, sealed.key_id),
    )
    return user_id, row["id"]


class BareMt5:
    """mt5linux's own client, as a script would use it."""

    def __init__(self, host: str, port: int) -> None:
        self.mt5 = mt5linux.MetaTrader5(host=host, port=port)
        assert self.mt5.initialize()
        assert self.mt5.login(LOGIN, password=PASSWORD, server=SERVER)

    def _send(self, side: int, position: int | None) -> tuple[float, int]:
        began = time.perf_counter()
        info = self.mt5.account_info()
        assert info is not None
        tick = self.mt5.symbol_info_tick("EURUSD")
        request = {
            "action": 1,  # TRADE_ACTION_DEAL
            "symbol": "EURUSD",
            "volume": 0.01,
            "type": side,  # ORDER_TYPE_BUY, ORDER_TYPE_SELL
            "price": float(tick.ask if side == 0 else tick.bid),
            "deviation": 20,
            "magic": 1,
            "comment": "bench",
            "type_time": 0,
            "type_filling": 1,
        }
        if position is not None:
            request["position"] = position
        result = self.mt5.order_send(request)
        elapsed = time.perf_counter() - began
        assert result is not None
        assert result.retcode == 10009, result
        return elapsed, int(result.order)

    def open(self) -> tuple[float, int]:
        return self._send(0, None)

    def close(self, ticket: int) -> float:
        return self._send(1, ticket)[0]


class BareCcxt:
    """A warm ccxt instance on its own asyncio loop."""

    def __init__(self, sim_url: str, key: dict[str, Any]) -> None:
        import ccxt.async_support as ccxt

        self.loop = asyncio.new_event_loop()
        self.exchange = getattr(ccxt, key["exchange"])(
            {"apiKey": key["api_key"], "secret": key["api_secret"], "enableRateLimit": False,
             "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                         "fetchMargins": False}}
        )  # fmt: skip
        self.exchange.urls["api"] = ccxt_urls(sim_url)[key["exchange"]]
        self.loop.run_until_complete(self.exchange.load_markets())
        self.n = 0

    def order(self, side: str) -> float:
        self.n += 1
        began = time.perf_counter()
        self.loop.run_until_complete(
            self.exchange.create_order(
                "BTC/USDT", "market", side, 0.001, None, {"clientOrderId": f"bare{self.n}x"}
            )
        )
        return time.perf_counter() - began

    def close(self) -> None:
        self.loop.run_until_complete(self.exchange.close())
        self.loop.close()


def through(http: httpx.Client, token: str, body: dict[str, Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    answer = http.post(
        "/v1/trades?wait=10",
        json=body,
        headers={"authorization": f"Bearer {token}", "idempotency-key": uuid.uuid4().hex},
    )
    elapsed = time.perf_counter() - began
    if answer.status_code != 201:
        raise SystemExit(f"POST /v1/trades answered {answer.status_code}: {answer.text}")
    return elapsed, answer.json()["fill"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100)
    args = parser.parse_args()
    keys, vault = new_vault()
    (xkey,) = [k for k in bench_keys(3) if k["exchange"] == "binance"]
    accounts = [{"login": LOGIN, "password": PASSWORD, "server": SERVER, "balance": 1e9,
                 "currency": "USD", "leverage": 100}]  # fmt: skip
    samples: dict[str, list[float]] = {
        f"{venue} {how}": []
        for venue in ("mt5 open", "mt5 close", "exchange buy", "exchange sell")
        for how in ("bare", "switchyard")
    }
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as url:
        path = write_accounts(Path(tmp) / "accounts.json", accounts)  # type: ignore[arg-type]
        ours_sim = start_in_subprocess(path, seed=5)
        bare_sim = start_in_subprocess(path, seed=5)
        xsim = start_sim([xkey])
        server = None
        worker = None
        bare_x = None
        try:
            with connect(url, autocommit=True) as conn:
                mt5_user, mt5_account = add_mt5_account(conn, vault, LOGIN, PASSWORD, SERVER)
                x_user, x_account = add_exchange_account(conn, vault, xkey)
            env = {
                "DATABASE_URL": url,
                "SWITCHYARD_FUNCTIONS_DATABASE_URL": functions_url_from(url),
                "SWITCHYARD_ENCRYPTION_KEYS": keys,
                "SUPABASE_JWT_SECRET": JWT_SECRET,
                "SWITCHYARD_RATE_LIMIT_PER_MINUTE": str(10**9),
                "SWITCHYARD_DATA_DIR": str(Path(tmp) / "data"),
            }
            settings = Settings.model_validate(
                {
                    **env,
                    "SWITCHYARD_MT5_TERMINALS": f"{ours_sim.host}:{ours_sim.port}",
                    "SWITCHYARD_EXCHANGE_API_URLS": xsim.ccxt_urls(),
                    "SWITCHYARD_EXCHANGE_RATE_SCALE": 0,
                    "SWITCHYARD_SYNC_INTERVAL_S": 86400,
                }
            )
            mt5_token = mint_token(settings, mt5_user, "mt5@bench.example")
            x_token = mint_token(settings, x_user, "x@bench.example")
            server, base = start_functions(env)
            worker = Worker(settings, url)
            worker.start()
            bare_mt5 = BareMt5(bare_sim.host, bare_sim.port)
            bare_x = BareCcxt(xsim.url, xkey)
            mt5_body = {"account_id": str(mt5_account), "symbol": "EURUSD", "side": "buy",
                        "type": "market", "volume": 0.01}  # fmt: skip
            x_body = {"account_id": str(x_account), "symbol": "BTC/USDT", "side": "buy",
                      "type": "market", "volume": 0.001}  # fmt: skip
            with httpx.Client(base_url=base, timeout=30) as http:

                def mt5_round() -> tuple[float, float, float, float]:
                    bare_open, ticket = bare_mt5.open()
                    bare_close = bare_mt5.close(ticket)
                    ours_open, fill = through(http, mt5_token, {**mt5_body, "side": "buy"})
                    close = {"account_id": mt5_body["account_id"], "action": "close",
                             "position": fill["position"]}  # fmt: skip
                    ours_close, _ = through(http, mt5_token, close)
                    return bare_open, ours_open, bare_close, ours_close

                def exchange_round() -> tuple[float, float, float, float]:
                    bare_buy = bare_x.order("buy")
                    ours_buy, _ = through(http, x_token, {**x_body, "side": "buy"})
                    bare_sell = bare_x.order("sell")
                    ours_sell, _ = through(http, x_token, {**x_body, "side": "sell"})
                    return bare_buy, ours_buy, bare_sell, ours_sell

                for _ in range(5):  # warm: the login, markets, pools, the first refresh
                    mt5_round()
                    exchange_round()
                for _ in range(args.orders):
                    for venue, timings in (("mt5", mt5_round()), ("exchange", exchange_round())):
                        names = ("open", "close") if venue == "mt5" else ("buy", "sell")
                        for i, how in enumerate(("bare", "switchyard", "bare", "switchyard")):
                            samples[f"{venue} {names[i // 2]} {how}"].append(timings[i])
        finally:
            if bare_x is not None:
                bare_x.close()
            if worker is not None:
                worker.shutdown()
            if server is not None:
                server.terminate()
                server.wait(10)
            for sim in (ours_sim, bare_sim, xsim):
                sim.stop()
    print(f"per trade, {args.orders} rounds of each, one trade at a time, interleaved:")
    for name, values in samples.items():
        print(f"  {name:28} p50 {pct(values, 0.5):7.2f} ms   p99 {pct(values, 0.99):7.2f} ms")
    for trade in ("mt5 open", "mt5 close", "exchange buy", "exchange sell"):
        bare = pct(samples[f"{trade} bare"], 0.5)
        ours = pct(samples[f"{trade} switchyard"], 0.5)
        print(f"  {trade:14} added at p50: {ours - bare:6.2f} ms  (switchyard / bare = "
              f"{ours / bare:4.1f}x; aim: at most 6 ms added)")  # fmt: skip


if __name__ == "__main__":
    main()
