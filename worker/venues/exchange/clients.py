"""The ccxt instances of exchange accounts, and what they share.

- **Markets** are loaded once per (exchange, environment, market types), by a keyless
  template instance, and every account's instance takes them by reference
  (`set_markets_from_exchange`; `set_markets` would deep-copy ~10 MB each).
- **One HTTP session per exchange** (aiohttp, ccxt's `session` config): instances do not
  own connection pools; and one TLS context for all (ccxt would load the CA bundle into a
  context of its own per instance: ~1 MB of C memory and a file read each).
- **One copy of what ccxt never changes after construction**: each instance deep-copies
  its exchange's API table, error table, `has` and `features` (~250-380 KB); every
  instance of one exchange and environment points at the first one's instead.
- **One request budget per exchange and egress address**: ccxt throttles per instance,
  so a thousand instances would each spend the exchange's whole per-IP limit; here they
  all wait on one throttler (`SWITCHYARD_EXCHANGE_RATE_SCALE` × ccxt's `rateLimit`).
- **A bounded cache** (`SWITCHYARD_EXCHANGE_SESSIONS_MAX`), least recently used out; an
  evicted instance is closed, and every instance and session is closed at shutdown.

`urls['api']` is overridden here and nowhere else, and only for the exchanges configured
in `SWITCHYARD_EXCHANGE_API_URLS` (the simulated exchange; `switchyard dev` sets it).
The key set is decrypted when an instance is built, handed to ccxt (which signs with it)
and kept nowhere else; a replaced key (a new ciphertext) builds a new instance.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import ssl
import threading
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import ccxt.async_support as ccxt
import certifi
from ccxt.async_support.base.throttler import Throttler

from switchyard.domain import AccountId
from switchyard.errors import CredentialsRejected
from switchyard.vault import Vault
from worker.venue import Account
from worker.venues.exchange.loop import LoopThread
from worker.venues.exchange.profile import Ccxt, Permissions, Profile

log = logging.getLogger(__name__)

#: Attributes ccxt fills in its constructor and only reads afterwards (checked against
#: ccxt 4.5.90's binance/bybit/okx: `api` feeds the implicit methods at construction,
#: `exceptions` the error handlers, `has`/`features` the capability checks).
SHARED_ATTRIBUTES: Final = (
    "api",
    "exceptions",
    "has",
    "features",
    "ecdsaCurves",
    "ecdsaPrehashedAlgorithms",
    "requiredCredentials",
    "precisionMode",
    "commonCurrencies",
)
# ccxt logs every request with its headers (the API key) at DEBUG: never let it.
logging.getLogger("ccxt").setLevel(logging.INFO)


@dataclass(eq=False)
class Client:
    """One account's ccxt instance; its lock makes the account's calls serial."""

    account_id: AccountId
    profile: Profile
    environment: str
    exchange: Ccxt = field(repr=False)
    #: The ciphertext it was built from: another one (new credentials) rebuilds it.
    sealed: str = field(repr=False)
    #: The key set's values, to be scrubbed from any text that leaves (repr-free).
    secrets: tuple[str, ...] = field(repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: The key's permissions as last read from the exchange (None: not yet).
    permissions: Permissions | None = None
    #: Whether the clock difference to the exchange was measured once.
    clock_synced: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    api_urls: Mapping[str, Mapping[str, str]]
    timeout_s: float
    max_clients: int
    rate_scale: float
    egress: str


class Clients:
    def __init__(self, loop: LoopThread, vault: Vault, settings: ClientSettings) -> None:
        self.loop = loop
        self.vault = vault
        self.settings = settings
        self._lock = threading.Lock()
        #: Guards building what instances share (sessions, budgets) from several lanes.
        self._shared_lock = threading.Lock()
        self._cache: OrderedDict[AccountId, Client] = OrderedDict()
        # Touched on the loop only:
        self._http: dict[str, aiohttp.ClientSession] = {}
        self._budgets: dict[tuple[str, str], Throttler] = {}
        self._templates: dict[tuple[str, str, tuple[str, ...]], Ccxt] = {}
        self._loading: dict[tuple[str, str, tuple[str, ...]], asyncio.Lock] = {}
        #: Each template's markets by our market key (`reports.market_key`).
        self._by_key: dict[int, dict[str, Any]] = {}
        #: Per (exchange, environment): the instance whose read-only tables others share.
        self._donors: dict[tuple[str, str], Ccxt] = {}
        #: The TLS context every instance verifies with (ccxt's own choice: certifi's CAs).
        self._tls = ssl.create_default_context(cafile=certifi.where())

    # -- the cache --------------------------------------------------------------------
    def client(self, account: Account, profile: Profile) -> Client:
        """The account's client, built (credentials decrypted) when missing or stale."""
        if account.ciphertext is None:
            raise CredentialsRejected(f"account {account.id} has no stored credentials")
        with self._lock:
            found = self._cache.get(account.id)
            if found is not None and found.sealed == account.ciphertext:
                self._cache.move_to_end(account.id)
                return found
        built = self._build(account, profile)
        with self._lock:
            stale = self._cache.pop(account.id, None)
            self._cache[account.id] = built
            evicted = [stale] if stale is not None else []
            evicted += self._overflow()
        for old in evicted:
            self._close_later(old)
        return built

    def _overflow(self) -> list[Client]:
        """Least recently used clients beyond the bound, skipping those in use."""
        out: list[Client] = []
        for account_id in list(self._cache):
            if len(self._cache) <= self.settings.max_clients:
                break
            candidate = self._cache[account_id]
            if candidate.lock.locked():
                continue
            out.append(self._cache.pop(account_id))
        return out

    def drop(self, account_id: AccountId) -> None:
        with self._lock:
            gone = self._cache.pop(account_id, None)
        if gone is not None:
            self._close_later(gone)

    def __len__(self) -> int:
        return len(self._cache)

    def _build(self, account: Account, profile: Profile) -> Client:
        assert account.ciphertext is not None
        if account.environment not in profile.environments:
            raise CredentialsRejected(
                f"{profile.noun} has no {account.environment} environment "
                f"(it has {', '.join(sorted(profile.environments))})"
            )
        credentials = self.vault.open(account.id, account.ciphertext)
        try:
            api_key = credentials.get("api_key") or ""
            secret = credentials.get("api_secret") or ""
            passphrase = credentials.get("passphrase") or ""
            if not api_key or not secret or (profile.passphrase and not passphrase):
                raise CredentialsRejected(
                    f"the stored credentials of account {account.id} are incomplete"
                )
            config: dict[str, Any] = {
                "apiKey": api_key,
                "secret": secret,
                "options": copy.deepcopy(dict(profile.options)),
                "timeout": int(self.settings.timeout_s * 1000),
                "enableRateLimit": self.settings.rate_scale > 0,
                "session": self._session(profile),
                "asyncio_loop": self.loop.loop,
            }
            if profile.passphrase:
                config["password"] = passphrase
            exchange = self._instance(profile, account.environment, config)
            secrets = tuple(s for s in (api_key, secret, passphrase) if s)
        finally:
            del credentials
        return Client(
            account_id=account.id,
            profile=profile,
            environment=account.environment,
            exchange=exchange,
            sealed=account.ciphertext,
            secrets=secrets,
        )

    def _instance(self, profile: Profile, environment: str, config: dict[str, Any]) -> Ccxt:
        exchange = getattr(ccxt, profile.ccxt_id)(config)
        exchange.ssl_context = self._tls
        donor = self._donor(profile, environment)
        for name in SHARED_ATTRIBUTES:
            setattr(exchange, name, getattr(donor, name))
        profile.environments[environment](exchange)
        # The one place urls['api'] changes: after the environment, which overwrites it.
        override = self.settings.api_urls.get(profile.ccxt_id)
        if override is not None:
            exchange.urls["api"] = dict(override)
        if self.settings.rate_scale > 0:
            exchange.throttler = self._budget(profile, exchange)
        return exchange

    # -- what instances share ---------------------------------------------------------
    def _donor(self, profile: Profile, environment: str) -> Ccxt:
        """A keyless instance whose read-only tables every instance of its kind shares."""
        with self._shared_lock:
            donor = self._donors.get((profile.ccxt_id, environment))
            if donor is None:
                donor = getattr(ccxt, profile.ccxt_id)({"asyncio_loop": self.loop.loop})
                if profile.has:
                    donor.has = {**donor.has, **profile.has}
                self._donors[(profile.ccxt_id, environment)] = donor
            return donor

    def _session(self, profile: Profile) -> aiohttp.ClientSession:
        """The exchange's HTTP session, made on the loop. The lock is never held while
        waiting for the loop: the loop itself takes it (for a template's donor)."""
        with self._shared_lock:
            session = self._http.get(profile.ccxt_id)
        if session is not None and not session.closed:
            return session

        async def make() -> aiohttp.ClientSession:
            return aiohttp.ClientSession(trust_env=False)

        made = self.loop.call(make(), 10)
        with self._shared_lock:
            session = self._http.get(profile.ccxt_id)
            if session is None or session.closed:
                self._http[profile.ccxt_id] = made
                return made
        self.loop.call(made.close(), 10)  # another lane made one first
        return session

    def _budget(self, profile: Profile, exchange: Ccxt) -> Throttler:
        with self._shared_lock:
            return self._budget_locked(profile, exchange)

    def _budget_locked(self, profile: Profile, exchange: Ccxt) -> Throttler:
        key = (profile.ccxt_id, self.settings.egress)
        budget = self._budgets.get(key)
        if budget is None:
            bucket = dict(exchange.tokenBucket)
            bucket["refillRate"] = bucket["refillRate"] * self.settings.rate_scale
            budget = Throttler(bucket, self.loop.loop)
            self._budgets[key] = budget
        return budget

    async def markets(self, client: Client) -> None:
        """Give the client its exchange's markets, loaded once (on the loop)."""
        if client.exchange.markets:
            return
        profile = client.profile
        types = tuple(profile.options.get("fetchMarkets", {}).get("types", ()))
        key = (profile.ccxt_id, client.environment, types)
        lock = self._loading.setdefault(key, asyncio.Lock())
        async with lock:
            template = self._templates.get(key)
            if template is None:
                config = {
                    "options": copy.deepcopy(dict(profile.options)),
                    "timeout": int(self.settings.timeout_s * 1000),
                    "enableRateLimit": self.settings.rate_scale > 0,
                    "session": self._http[profile.ccxt_id],
                    "asyncio_loop": self.loop.loop,
                }
                template = self._instance(profile, client.environment, config)
                await template.load_markets()
                self._templates[key] = template
                log.info(
                    "%s %s: %d markets loaded (%s)",
                    profile.noun,
                    client.environment,
                    len(template.markets),
                    ", ".join(types),
                )
        client.exchange.set_markets_from_exchange(template)

    def by_key(self, client: Client) -> dict[str, Any]:
        """The client's markets by our market key (shared with its template)."""
        markets = client.exchange.markets
        found = self._by_key.get(id(markets))
        if found is None:
            found = {f"{m['type']}-{m['id']}": m for m in markets.values()}
            self._by_key[id(markets)] = found
        return found

    # -- closing ----------------------------------------------------------------------
    def _close_later(self, client: Client) -> None:
        if not self.loop.is_alive():
            return
        future: Future[None] = asyncio.run_coroutine_threadsafe(
            _close(client.exchange), self.loop.loop
        )
        future.add_done_callback(_log_failure)

    def close_all(self, timeout_s: float = 10.0) -> None:
        """Close every instance, template and HTTP session (at shutdown)."""
        with self._lock:
            clients = list(self._cache.values())
            self._cache.clear()
        if not self.loop.is_alive():
            return

        async def close_everything() -> None:
            instances = [c.exchange for c in clients] + list(self._templates.values())
            await asyncio.gather(*(_close(e) for e in instances), return_exceptions=True)
            self._templates.clear()
            for session in self._http.values():
                await session.close()
            self._http.clear()

        self.loop.call(close_everything(), timeout_s)


async def _close(exchange: Ccxt) -> None:
    # A shared session is not the instance's to close; ccxt also sleeps timeout_on_exit.
    exchange.timeout_on_exit = 0
    await exchange.close()


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("closing an exchange session failed: %s", future.exception())
