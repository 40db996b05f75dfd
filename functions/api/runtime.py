"""Everything a function process holds between requests, built once from Settings.

Building refuses to start on bad configuration (ConfigError): a missing or malformed
SWITCHYARD_ENCRYPTION_KEYS, no way to verify tokens. Starting opens the connection
pool (without waiting for the database: /healthz reports it) and the one LISTEN task.
The pool refuses every connection whose login role can do more than become `anon` or
`authenticated` (`authenticator` can become `service_role`, `postgres` is everything):
then nothing is served (503) and the log says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from functions.api.apitokens import ApiTokens
from functions.api.auth import TokenVerifier, hs256_secret
from functions.api.events import EventHub
from functions.api.jwks import JwksCache, jwks_url
from functions.api.listener import Listener
from functions.api.ratelimit import RateLimits
from functions.api.waiting import JobWaiter
from switchyard.db import AsyncConnection
from switchyard.errors import ConfigError
from switchyard.queries import queries
from switchyard.settings import FUNCTIONS_LOGIN_ROLE, Settings
from switchyard.vault import KeyRing, Vault

#: How long a request waits for a free pooled connection before answering 503.
POOL_TIMEOUT_S = 5.0


async def refuse_a_powerful_login(conn: AsyncConnection) -> None:
    """Each new pooled connection: its login role may become a user, nothing more."""
    row = await (await conn.execute(queries["api_login_role_powers"])).fetchone()
    powers = list(row["powers"]) if row is not None else ["is not a role"]
    if powers:
        login = row["login"] if row is not None else "?"
        await conn.close()
        raise ConfigError(
            f"the functions' database login {login!r} {', '.join(powers)}: log in as "
            f"{FUNCTIONS_LOGIN_ROLE} (SWITCHYARD_FUNCTIONS_DATABASE_URL), which can only "
            "become anon or authenticated"
        )


@dataclass(kw_only=True)
class Runtime:
    settings: Settings
    vault: Vault
    verifier: TokenVerifier
    api_tokens: ApiTokens
    limits: RateLimits
    pool: AsyncConnectionPool[AsyncConnection]
    listener: Listener
    waiter: JobWaiter
    events: EventHub
    http: httpx.AsyncClient
    jwks: JwksCache | None

    @classmethod
    def build(cls, settings: Settings, conninfo: str) -> Runtime:
        """Check the configuration and make (not open) every resource."""
        keys = settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
        vault = Vault(KeyRing.parse(keys))
        http = httpx.AsyncClient(timeout=settings.jwks_timeout_s, follow_redirects=False)
        jwks = None
        if settings.supabase_url:
            jwks = JwksCache(
                jwks_url(settings.supabase_url),
                client=http,
                ttl_s=settings.jwks_cache_ttl_s,
                min_refetch_s=settings.jwks_min_refetch_s,
            )
        verifier = TokenVerifier(
            hs256=hs256_secret(settings),
            jwks=jwks,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway_s=settings.jwt_leeway_s,
        )
        pool = AsyncConnectionPool[AsyncConnection](
            conninfo,
            min_size=1,
            max_size=settings.functions_pool_size,
            timeout=POOL_TIMEOUT_S,
            connection_class=AsyncConnection,
            configure=refuse_a_powerful_login,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "application_name": "switchyard-functions",
                "prepare_threshold": 5 if settings.functions_prepared_statements else None,
            },
            open=False,
            name="switchyard-functions",
        )
        # One LISTEN connection for the whole process: waiting requests and event streams.
        listener = Listener(conninfo if settings.functions_listen else None)
        waiter = JobWaiter(listener, poll_interval_s=settings.job_poll_interval_s)
        events = EventHub(
            pool,
            listener,
            poll_interval_s=settings.events_poll_interval_s,
            queue_size=settings.events_queue_size,
        )
        return cls(
            settings=settings,
            vault=vault,
            verifier=verifier,
            api_tokens=ApiTokens(pool),
            limits=RateLimits.from_settings(settings),
            pool=pool,
            listener=listener,
            waiter=waiter,
            events=events,
            http=http,
            jwks=jwks,
        )

    async def start(self) -> None:
        await self.pool.open(wait=False)
        await self.listener.start()

    async def stop(self) -> None:
        await self.events.stop()
        await self.listener.stop()
        await self.pool.close()
        await self.http.aclose()

    def wait_s(self, requested: float | None) -> float:
        """The bounded wait of a request: `?wait=` if given, never above the maximum."""
        chosen = self.settings.wait_default_s if requested is None else requested
        return max(0.0, min(chosen, self.settings.wait_max_s))
