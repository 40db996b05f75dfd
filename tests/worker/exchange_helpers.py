"""Exchange accounts for worker tests: keys of the simulated exchange, one simulator per
test session, and the worker's real exchange adapter (real ccxt over HTTP) pointed at it."""

from __future__ import annotations

import atexit
import json
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from switchyard.domain import AccountId, Venue
from switchyard.sim.exchange.server import SimExchangeProcess, start_in_subprocess
from switchyard.vault import Vault
from worker.venue import Account
from worker.venues.exchange.adapter import ExchangeVenue
from worker.venues.exchange.clients import Clients, ClientSettings
from worker.venues.exchange.loop import LoopThread

BALANCES = {"USDT": "10000", "BTC": "1", "ETH": "10"}
EXCHANGES = ("binance", "bybit", "okx", "coinbase")
#: What each exchange's contract harness trades: spot on Binance and Coinbase, perpetuals
#: elsewhere.
SYMBOL = {
    "binance": "BTC/USDT",
    "bybit": "BTC/USDT:USDT",
    "okx": "BTC/USDT:USDT",
    "coinbase": "BTC/USDT",
}


def cdp_key(label: str) -> tuple[str, str]:
    """A Coinbase CDP key (its name, its EC P-256 private key in PEM) derived from `label`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    number = int.from_bytes(label.encode().ljust(24, b"."), "big")
    pem = ec.derive_private_key(number, ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    org = uuid.uuid5(uuid.NAMESPACE_URL, "switchyard-tests")
    name = f"organizations/{org}/apiKeys/{uuid.uuid5(uuid.NAMESPACE_URL, label)}"
    return name, pem.decode()


def wrong_secret(exchange: str) -> str:
    """A secret of the right shape that is not the key's (Coinbase: another EC key)."""
    return cdp_key("not-this-key")[1] if exchange == "coinbase" else "not-the-secret"


def _key(exchange: str, label: str, permissions: list[str], **extra: Any) -> dict[str, Any]:
    n = abs(hash(label)) % 10**6
    if exchange == "binance":
        api_key = (label.replace("-", "") + "K" * 64)[:64]
    elif exchange == "bybit":
        api_key = (label.replace("-", "") + "B" * 18)[:18]
    else:
        api_key = str(uuid.uuid5(uuid.NAMESPACE_URL, label))
    secret = f"{label}-secret-{n}"
    if exchange == "coinbase":
        api_key, secret = cdp_key(label)
    key = {
        "exchange": exchange,
        "api_key": api_key,
        "api_secret": secret,
        "permissions": permissions,
        "balances": BALANCES,
        "account": label,
        "label": label,
    }
    if exchange == "okx":
        key |= {"passphrase": f"{label}-pass", "environment": "demo"}
    return key | extra


#: Keys by name: `<exchange>`, `<exchange>-other`, `-read`, `-withdraw`, `-revoke`, `-N`.
KEYS: dict[str, dict[str, Any]] = {}
for _exchange in EXCHANGES:
    for _suffix, _perms in (
        ("", ["read", "trade"]),
        ("-other", ["read", "trade"]),
        ("-read", ["read"]),
        ("-withdraw", ["read", "trade", "withdraw"]),
        ("-revoke", ["read", "trade"]),
        ("-crash", ["read", "trade"]),
        ("-walk", ["read", "trade"]),
    ):
        KEYS[_exchange + _suffix] = _key(_exchange, f"{_exchange}{_suffix}", _perms)
KEYS["binance-testnet"] = _key(
    "binance", "binance-testnet", ["read", "trade"], environment="testnet"
)


def environment(name: str) -> str:
    return str(KEYS[name].get("environment", "live"))


_sim: SimExchangeProcess | None = None
_sim_lock = threading.Lock()


def simulator() -> SimExchangeProcess:
    """The session's simulated exchange (faults enabled, a ledger), started on first use."""
    global _sim
    with _sim_lock:
        if _sim is None or _sim.process.poll() is not None:
            root = Path(tempfile.mkdtemp(prefix="sy-sim-exchange-"))
            accounts = root / "accounts.json"
            accounts.write_text(json.dumps({"keys": list(KEYS.values())}), encoding="utf-8")
            _sim = start_in_subprocess(accounts, root / "ledger.jsonl", enable_faults=True, seed=5)
            atexit.register(_sim.stop)
        return _sim


def fresh(sim: SimExchangeProcess) -> SimExchangeProcess:
    sim.control("reset")
    sim.control("prices", {"BTC": "65000", "ETH": "3200"})
    return sim


def executed(sim: SimExchangeProcess, name: str, after: int = 0) -> list[str]:
    """Client order ids the simulator filled for key `name`, in order (one per fill)."""
    api_key = KEYS[name]["api_key"]
    return [e["client_order_id"] for e in sim.ledger()[after:] if e["api_key"] == api_key]


def secrets_of(name: str) -> dict[str, str]:
    key = KEYS[name]
    values = {"api_key": key["api_key"], "api_secret": key["api_secret"]}
    if "passphrase" in key:
        values["passphrase"] = key["passphrase"]
    return values


def account(vault: Vault, name: str, **secret_changes: str) -> Account:
    """An exchange account row (not stored) for key `name`, its secret sealed to it."""
    account_id = AccountId(uuid.uuid4())
    sealed = vault.seal(account_id, secrets_of(name) | secret_changes)
    return Account(
        id=account_id,
        user_id=uuid.uuid4(),
        venue=Venue(KEYS[name]["exchange"]),
        login=f"fp-{name}",
        server=None,
        environment=environment(name),
        status="verified",
        is_active=True,
        ciphertext=sealed.ciphertext,
    )


@contextmanager
def exchange_venue(
    sim: SimExchangeProcess, vault: Vault, *, timeout_s: float = 3.0, **overrides: Any
) -> Iterator[ExchangeVenue]:
    """The worker's exchange adapter on its own loop, pointed at `sim`; closed after."""
    loop = LoopThread()
    loop.start()
    settings = ClientSettings(
        api_urls=sim.ccxt_urls(),
        timeout_s=timeout_s,
        max_clients=overrides.pop("max_clients", 100),
        rate_scale=overrides.pop("rate_scale", 0.0),
        egress="",
    )
    clients = Clients(loop, vault, settings)
    try:
        yield ExchangeVenue(
            clients,
            request_timeout_s=timeout_s,
            allow_withdraw=overrides.pop("allow_withdraw", False),
        )
    finally:
        clients.close_all()
        loop.stop()


def store_account(
    db: Any, vault: Vault, name: str, *, status: str = "verified", **secret_changes: str
) -> Account:
    """An exchange account row for key `name`, as the functions store it (sealed secret)."""
    from switchyard.tokens import ensure_user
    from switchyard.vault import fingerprint_api_key, mask_api_key

    key = KEYS[name]
    user_id = ensure_user(db, f"{name}-{uuid.uuid4().hex[:6]}@ex.com")
    row = db.execute(
        "insert into public.accounts (user_id, kind, venue, name, login, environment,"
        " api_key_masked, status, verified_at) values (%s, 'exchange', %s, %s, %s, %s, %s,"
        " %s, case when %s = 'verified' then now() end) returning id",
        (
            user_id,
            key["exchange"],
            name,
            fingerprint_api_key(key["api_key"]),
            environment(name),
            mask_api_key(key["api_key"]),
            status,
            status,
        ),
    ).fetchone()
    sealed = vault.seal(row["id"], secrets_of(name) | secret_changes)
    db.execute(
        "insert into private.account_secrets (account_id, ciphertext, key_id) values (%s, %s, %s)",
        (row["id"], sealed.ciphertext, sealed.key_id),
    )
    return Account(
        id=AccountId(row["id"]),
        user_id=user_id,
        venue=Venue(key["exchange"]),
        login=fingerprint_api_key(key["api_key"]),
        server=None,
        environment=environment(name),
        status=status,
        is_active=True,
        ciphertext=sealed.ciphertext,
    )


def worker_fields(sim: SimExchangeProcess, **overrides: Any) -> dict[str, Any]:
    """Settings of a test worker that serves exchange accounts on `sim` (no terminals)."""
    return {
        "exchange_api_urls": sim.ccxt_urls(),
        "exchange_lanes": 2,
        "exchange_call_timeout_s": 2.0,
        "exchange_rate_scale": 0.0,
        "worker_lease_s": 8.0,
        **overrides,
    }


def worker_env_of(sim: SimExchangeProcess, lanes: int = 2) -> dict[str, str]:
    """The same, as a `python -m worker` subprocess's environment."""
    return {
        "SWITCHYARD_EXCHANGE_API_URLS": json.dumps(sim.ccxt_urls()),
        "SWITCHYARD_EXCHANGE_LANES": str(lanes),
        "SWITCHYARD_EXCHANGE_CALL_TIMEOUT_S": "2",
        "SWITCHYARD_EXCHANGE_RATE_SCALE": "0",
        "SWITCHYARD_WORKER_LEASE_S": "8",
    }
