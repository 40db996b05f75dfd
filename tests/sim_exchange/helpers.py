"""Test keys and real ccxt.async_support clients pointed at the simulated exchange."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import ccxt.async_support as ccxt
import pytest

from switchyard.sim.exchange.server import SimExchangeProcess

T = TypeVar("T")

BALANCES = {"USDT": "10000", "BTC": "1", "ETH": "10"}


def _binance_id(label: str) -> str:
    return (label.replace("-", "") * 64)[:64]


#: Every test key, by a short name. Binance ids are 64 alphanumerics, as Binance's are.
KEYS: dict[str, dict[str, Any]] = {
    "binance": {"exchange": "binance", "api_key": _binance_id("bnTrade"), "api_secret": "bn-trade-secret", "permissions": ["read", "trade"]},
    "binance-read-only": {"exchange": "binance", "api_key": _binance_id("bnRead"), "api_secret": "bn-read-secret", "permissions": ["read"]},
    "binance-withdraw": {"exchange": "binance", "api_key": _binance_id("bnWithdraw"), "api_secret": "bn-withdraw-secret", "permissions": ["read", "trade", "withdraw"]},
    "binance-ip": {"exchange": "binance", "api_key": _binance_id("bnIp"), "api_secret": "bn-ip-secret", "permissions": ["read", "trade"], "ip_whitelist": ["10.1.2.3"]},
    "binance-testnet": {"exchange": "binance", "api_key": _binance_id("bnTestnet"), "api_secret": "bn-testnet-secret", "permissions": ["read", "trade"], "environment": "testnet"},
    "bybit": {"exchange": "bybit", "api_key": "BybitTradeKey00001", "api_secret": "bybit-trade-secret", "permissions": ["read", "trade"]},
    "bybit-read-only": {"exchange": "bybit", "api_key": "BybitReadKey000001", "api_secret": "bybit-read-secret", "permissions": ["read"]},
    "bybit-withdraw": {"exchange": "bybit", "api_key": "BybitWithdraw00001", "api_secret": "bybit-withdraw-secret", "permissions": ["read", "trade", "withdraw"]},
    "bybit-ip": {"exchange": "bybit", "api_key": "BybitIpKey00000001", "api_secret": "bybit-ip-secret", "permissions": ["read", "trade"], "ip_whitelist": ["10.1.2.3"]},
    "okx": {"exchange": "okx", "api_key": "0b6c9a70-7a3e-4c1d-9f2e-000000000001", "api_secret": "OKXTRADESECRET", "passphrase": "Trade-pass-1", "environment": "demo", "permissions": ["read", "trade"]},
    "okx-live": {"exchange": "okx", "api_key": "0b6c9a70-7a3e-4c1d-9f2e-000000000002", "api_secret": "OKXLIVESECRET", "passphrase": "Live-pass-1", "environment": "live", "permissions": ["read", "trade"]},
    "okx-read-only": {"exchange": "okx", "api_key": "0b6c9a70-7a3e-4c1d-9f2e-000000000003", "api_secret": "OKXREADSECRET", "passphrase": "Read-pass-1", "environment": "demo", "permissions": ["read"]},
    "okx-withdraw": {"exchange": "okx", "api_key": "0b6c9a70-7a3e-4c1d-9f2e-000000000004", "api_secret": "OKXWITHDRAWSECRET", "passphrase": "Withdraw-pass-1", "environment": "demo", "permissions": ["read", "trade", "withdraw"]},
    "okx-ip": {"exchange": "okx", "api_key": "0b6c9a70-7a3e-4c1d-9f2e-000000000005", "api_secret": "OKXIPSECRET", "passphrase": "Ip-pass-1", "environment": "demo", "permissions": ["read", "trade"], "ip_whitelist": ["10.1.2.3"]},
}  # fmt: skip


def _cdp_key(label: str) -> dict[str, str]:
    """A CDP key (name, EC P-256 private key in PEM) derived from ``label``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    secret = int.from_bytes(label.encode().ljust(24, b"."), "big")
    pem = ec.derive_private_key(secret, ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    org = "0b7d1f3e-5c2a-4e8b-9a61-3f0c2d4e5a6b"
    return {"api_key": f"organizations/{org}/apiKeys/{label}", "api_secret": pem.decode()}


#: Coinbase CDP keys: can_view (read), can_trade (trade), can_transfer (withdraw).
KEYS.update({
    "coinbase": {"exchange": "coinbase", **_cdp_key("cb-trade"), "permissions": ["read", "trade"]},
    "coinbase-read-only": {"exchange": "coinbase", **_cdp_key("cb-read"), "permissions": ["read"]},
    "coinbase-transfer": {"exchange": "coinbase", **_cdp_key("cb-transfer"), "permissions": ["read", "trade", "withdraw"]},
    "coinbase-ip": {"exchange": "coinbase", **_cdp_key("cb-ip"), "permissions": ["read", "trade"], "ip_whitelist": ["10.1.2.3"]},
})  # fmt: skip
for _name, _key in KEYS.items():
    _key.setdefault("balances", BALANCES)
    _key.setdefault("account", _name)

#: The cut-down load_markets options an adapter uses: only the market types we trade.
OPTIONS: dict[str, dict[str, Any]] = {
    "binance": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
    "bybit": {"fetchMarkets": {"types": ["spot", "linear"]}, "enableUnifiedAccount": True, "enableUnifiedMargin": False},
    "okx": {"fetchMarkets": {"types": ["spot", "swap"]}},
    # ccxt's default balance call is the v2 (Coinbase App) one: Advanced Trade's is v3.
    "coinbase": {"fetchBalance": "v3PrivateGetBrokerageAccounts"},
}  # fmt: skip
#: Symbols: spot everywhere, a USDT perpetual on Bybit and OKX.
SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"
#: A client order id valid on every venue (OKX allows alphanumerics only, up to 32).
CID_PREFIX = "sy"


def client(sim: SimExchangeProcess, name: str, **config: Any) -> Any:
    """A ccxt.async_support instance for key ``name``, as an adapter would build it."""
    key = KEYS[name]
    exchange = key["exchange"]
    settings: dict[str, Any] = {
        "apiKey": key["api_key"],
        "secret": key["api_secret"],
        "options": {**OPTIONS[exchange]},
        # ccxt's per-instance throttle only slows the suite down against a local server.
        "enableRateLimit": False,
    }
    if "passphrase" in key:
        settings["password"] = key["passphrase"]
    if exchange in ("bybit", "okx", "coinbase"):
        settings["has"] = {"fetchCurrencies": False}
    settings.update(config)
    instance = getattr(ccxt, exchange)(settings)
    if exchange == "okx" and key.get("environment") == "demo":
        instance.set_sandbox_mode(True)  # sends x-simulated-trading: 1 (and replaces urls['api'])
    instance.urls["api"] = sim.ccxt_urls()[exchange]  # after set_sandbox_mode, which overwrites it
    return instance


async def using(exchange: Any, action: Callable[[Any], Awaitable[T]]) -> T:
    try:
        return await action(exchange)
    finally:
        await exchange.close()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def count_requests(exchange: Any) -> list[str]:
    """Record every HTTP request the instance sends (method and URL path)."""
    seen: list[str] = []
    original = exchange.fetch

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        seen.append(f"{method} {url.split('?')[0].split('//', 1)[1].split('/', 1)[1]}")
        return await original(url, method, headers, body)

    exchange.fetch = fetch
    return seen


def by_client_id(sim: SimExchangeProcess, client_id: str) -> list[dict[str, Any]]:
    return [entry for entry in sim.ledger() if entry["client_order_id"] == client_id]


def lookup_by_client_id(exchange: Any, symbol: str, client_id: str) -> Awaitable[Any]:
    """Find an order again by its client order id, the way each venue allows it.

    Bybit's fetch_order(None, ...) sends ``orderId=None`` (which wins over orderLinkId), so
    the look-up goes through /v5/order/realtime with the orderLinkId alone.
    """
    if exchange.id == "bybit":

        async def find() -> Any:
            found = await exchange.fetch_open_orders(symbol, None, None, {"orderLinkId": client_id})
            if not found:
                raise ccxt.OrderNotFound(client_id)
            return found[0]

        return find()
    return exchange.fetch_order(None, symbol, {"clientOrderId": client_id})


@contextmanager
def raises_exactly(error: type[BaseException], match: str | None = None) -> Iterator[Any]:
    """pytest.raises, and the class must be exactly ``error`` (ccxt's classes nest:
    PermissionDenied is an AuthenticationError, BadSymbol a BadRequest)."""
    with pytest.raises(error, match=match) as info:
        yield info
    assert type(info.value) is error, f"{type(info.value).__name__}, not {error.__name__}"
