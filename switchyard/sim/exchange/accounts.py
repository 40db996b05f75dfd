"""API keys and the accounts they open, read from a JSON file.

The file is a list of keys (or ``{"keys": [...]}``), each::

    {"exchange": "okx", "api_key": "...", "api_secret": "...", "passphrase": "...",
     "environment": "demo", "permissions": ["read", "trade"],
     "balances": {"USDT": "10000"}, "ip_whitelist": ["127.0.0.1"], "account": "alice"}

``permissions`` is venue-neutral: ``read``, ``trade`` (spot and perpetuals) and
``withdraw``; each venue reports them in its own shape (Coinbase: ``can_view``,
``can_trade``, ``can_transfer``). A Coinbase key is a CDP API key: ``api_key`` its name
(``organizations/{org}/apiKeys/{id}``), ``api_secret`` its EC P-256 private key in PEM.
Keys naming the same ``account`` (default: the key itself) share one account's balances,
orders and positions; the first key of an account that lists ``balances`` sets them.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

EXCHANGES: Final = ("binance", "bybit", "okx", "coinbase")
ENVIRONMENTS: Final = ("live", "testnet", "demo")
PERMISSIONS: Final = frozenset({"read", "trade", "withdraw"})


class AccountsFileError(ValueError):
    """The accounts file is malformed."""


@dataclass(kw_only=True)
class ApiKey:
    exchange: str
    api_key: str
    api_secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)
    environment: str = "live"
    permissions: frozenset[str] = frozenset({"read", "trade"})
    ip_whitelist: tuple[str, ...] = ()
    account: str = ""
    balances: dict[str, Decimal] = field(default_factory=dict)
    label: str = ""
    created_ms: int = 1_700_000_000_000
    #: Set by the key-revocation fault: the venue then no longer knows the key.
    revoked: bool = False

    @property
    def can_read(self) -> bool:
        return "read" in self.permissions

    @property
    def can_trade(self) -> bool:
        return "trade" in self.permissions

    @property
    def can_withdraw(self) -> bool:
        return "withdraw" in self.permissions

    def ip_allowed(self, ip: str) -> bool:
        return not self.ip_whitelist or ip in self.ip_whitelist


def _text(raw: Mapping[str, Any], name: str, where: str, default: str | None = None) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str) or not value:
        raise AccountsFileError(f"{where}: '{name}' must be a non-empty string")
    return value


def _balances(raw: object, where: str) -> dict[str, Decimal]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise AccountsFileError(f"{where}: 'balances' must map assets to amounts")
    try:
        result = {str(asset).upper(): Decimal(str(amount)) for asset, amount in raw.items()}
    except InvalidOperation as exc:
        raise AccountsFileError(f"{where}: a balance is not a number") from exc
    if any(amount < 0 for amount in result.values()):
        raise AccountsFileError(f"{where}: balances must not be negative")
    return result


def _check_cdp_key(pem: str, where: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        message = f"{where}: a Coinbase api_secret must be a PEM private key"
        raise AccountsFileError(message) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise AccountsFileError(f"{where}: a Coinbase key must be an EC P-256 (ES256) key")


def parse_key(raw: Mapping[str, Any], where: str) -> ApiKey:
    exchange = _text(raw, "exchange", where)
    if exchange not in EXCHANGES:
        raise AccountsFileError(f"{where}: exchange must be one of {EXCHANGES}")
    environment = _text(raw, "environment", where, "live")
    if environment not in ENVIRONMENTS:
        raise AccountsFileError(f"{where}: environment must be one of {ENVIRONMENTS}")
    permissions = raw.get("permissions", ["read", "trade"])
    if not isinstance(permissions, list) or not set(permissions) <= PERMISSIONS:
        raise AccountsFileError(f"{where}: permissions must be a list of {sorted(PERMISSIONS)}")
    passphrase = raw.get("passphrase")
    if exchange == "okx" and not isinstance(passphrase, str):
        raise AccountsFileError(f"{where}: an OKX key needs its passphrase")
    if exchange == "coinbase":
        _check_cdp_key(_text(raw, "api_secret", where), where)
    whitelist = raw.get("ip_whitelist", [])
    if not isinstance(whitelist, list) or not all(isinstance(ip, str) for ip in whitelist):
        raise AccountsFileError(f"{where}: ip_whitelist must be a list of addresses")
    api_key = _text(raw, "api_key", where)
    return ApiKey(
        exchange=exchange,
        api_key=api_key,
        api_secret=_text(raw, "api_secret", where),
        passphrase=passphrase if isinstance(passphrase, str) else None,
        environment=environment,
        permissions=frozenset(permissions),
        ip_whitelist=tuple(whitelist),
        account=str(raw.get("account") or api_key),
        balances=_balances(raw.get("balances"), where),
        label=str(raw.get("label", "")),
    )


def parse_keys(document: object) -> list[ApiKey]:
    entries = document.get("keys") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise AccountsFileError("the accounts file must be a list of keys or {'keys': [...]}")
    keys = []
    seen: set[tuple[str, str]] = set()
    for number, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise AccountsFileError(f"key #{number}: must be an object")
        key = parse_key(raw, f"key #{number}")
        if (key.exchange, key.api_key) in seen:
            raise AccountsFileError(f"key #{number}: {key.exchange} key listed twice")
        seen.add((key.exchange, key.api_key))
        keys.append(key)
    return keys


def load_keys(path: Path) -> list[ApiKey]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AccountsFileError(f"{path}: not JSON ({exc})") from exc
    return parse_keys(document)


def key_document(key: ApiKey) -> dict[str, Any]:
    """``key`` as an accounts-file entry (the inverse of ``parse_key``)."""
    entry: dict[str, Any] = {
        "exchange": key.exchange,
        "api_key": key.api_key,
        "api_secret": key.api_secret,
        "environment": key.environment,
        "permissions": sorted(key.permissions),
        "account": key.account,
        "balances": {asset: str(amount) for asset, amount in key.balances.items()},
    }
    if key.passphrase is not None:
        entry["passphrase"] = key.passphrase
    if key.ip_whitelist:
        entry["ip_whitelist"] = list(key.ip_whitelist)
    if key.label:
        entry["label"] = key.label
    return entry


def write_keys(path: Path, keys: Iterable[ApiKey]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"keys": [key_document(key) for key in keys]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass
class KeyRing:
    """Every key the simulator knows, by (exchange, api key)."""

    keys: dict[tuple[str, str], ApiKey] = field(default_factory=dict)

    @classmethod
    def of(cls, keys: Iterable[ApiKey]) -> "KeyRing":
        return cls({(key.exchange, key.api_key): key for key in keys})

    def lookup(self, exchange: str, api_key: str) -> ApiKey | None:
        """The live key, or None when unknown or revoked."""
        key = self.keys.get((exchange, api_key))
        return None if key is None or key.revoked else key

    def set_revoked(self, api_key: str, revoked: bool, exchange: str | None = None) -> int:
        """Revoke (or restore) every key with this id; how many there were."""
        found = [
            key
            for (venue, key_id), key in self.keys.items()
            if key_id == api_key and exchange in (None, venue)
        ]
        for key in found:
            key.revoked = revoked
        return len(found)
