"""Demo keys for ``switchyard dev`` and the ``ccxt_urls`` override dev.json lists.

For each venue a trade-only key; in all, withdraw-enabled keys (Bybit; Coinbase's
``can_transfer``) and read-only keys (Binance, OKX, Coinbase). The keys are derived from
fixed labels, in each venue's own format (Binance: 64 alphanumerics; Bybit: 18 and 36; OKX:
a UUID, 32 hex, a passphrase; Coinbase: a CDP key name and an EC P-256 private key in PEM).
They open accounts in this simulator only.
"""

import hashlib
import uuid
from decimal import Decimal
from typing import Any

from .accounts import ApiKey

DEMO_BALANCES = {"USDT": Decimal("10000"), "BTC": Decimal("0.5"), "ETH": Decimal("5")}


def _hex(label: str, length: int) -> str:
    return hashlib.sha256(f"switchyard-sim-exchange:{label}".encode()).hexdigest()[:length]


def _alnum(label: str, length: int) -> str:
    digest = hashlib.sha256(f"switchyard-sim-exchange:{label}".encode()).digest()
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    number = int.from_bytes(digest * 3, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def _cdp_key(label: str) -> tuple[str, str]:
    """A CDP key name and its EC P-256 private key (PEM, SEC1 as Coinbase hands it out)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    secret = int(_hex(f"{label}:ec", 64), 16) % (2**255) + 1  # below the P-256 group order
    key = ec.derive_private_key(secret, ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    name = f"organizations/{uuid.UUID(_hex('org', 32))}/apiKeys/{uuid.UUID(_hex(label, 32))}"
    return name, pem


def _key(exchange: str, label: str, permissions: set[str], **extra: Any) -> ApiKey:
    if exchange == "coinbase":
        api_key, secret = _cdp_key(label)
    elif exchange == "binance":
        api_key, secret = _alnum(f"{label}:key", 64), _alnum(f"{label}:secret", 64)
    elif exchange == "bybit":
        api_key, secret = _alnum(f"{label}:key", 18), _alnum(f"{label}:secret", 36)
    else:
        api_key = str(uuid.UUID(_hex(f"{label}:key", 32)))
        secret = _hex(f"{label}:secret", 32).upper()
    return ApiKey(
        exchange=exchange,
        api_key=api_key,
        api_secret=secret,
        permissions=frozenset(permissions),
        account=label,
        balances=dict(DEMO_BALANCES),
        label=label,
        **extra,
    )


def demo_keys() -> list[ApiKey]:
    """The demo keys: each opens its own funded account."""
    return [
        _key("binance", "binance-trade", {"read", "trade"}),
        _key("binance", "binance-read-only", {"read"}),
        _key("bybit", "bybit-trade", {"read", "trade"}),
        _key("bybit", "bybit-withdraw", {"read", "trade", "withdraw"}),
        _key(
            "okx",
            "okx-trade",
            {"read", "trade"},
            passphrase=_hex("okx-trade:pass", 12),
            environment="demo",
        ),
        _key(
            "okx",
            "okx-read-only",
            {"read"},
            passphrase=_hex("okx-read-only:pass", 12),
            environment="demo",
        ),
        _key("coinbase", "coinbase-trade", {"read", "trade"}),
        _key("coinbase", "coinbase-transfer", {"read", "trade", "withdraw"}),
        _key("coinbase", "coinbase-read-only", {"read"}),
    ]


def demo_key_entries(keys: list[ApiKey] | None = None) -> list[dict[str, Any]]:
    """The demo keys as dev.json's ``demo_keys`` lists them."""
    entries = []
    for key in keys if keys is not None else demo_keys():
        entry: dict[str, Any] = {
            "exchange": key.exchange,
            "api_key": key.api_key,
            "api_secret": key.api_secret,
            "permissions": sorted(key.permissions),
            "environment": key.environment,
            "label": key.label,
        }
        if key.passphrase is not None:
            entry["passphrase"] = key.passphrase
        entries.append(entry)
    return entries


def ccxt_urls(base_url: str) -> dict[str, dict[str, str]]:
    """What to put in each ccxt instance's ``urls['api']`` to reach this simulator."""
    root = base_url.rstrip("/")
    return {
        "binance": {
            "public": f"{root}/binance/api/v3",
            "private": f"{root}/binance/api/v3",
            "sapi": f"{root}/binance/sapi/v1",
        },
        "bybit": {"public": f"{root}/bybit", "private": f"{root}/bybit"},
        "okx": {"rest": f"{root}/okx"},
        "coinbase": {"rest": f"{root}/coinbase"},
    }
