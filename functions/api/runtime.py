"""Everything a function process holds between requests, built once from Settings.

Building refuses to start on bad configuration (ConfigError): a missing or malformed
SWITCHYARD_ENCRYPTION_KEYS, no way to verify tokens. Starting opens the connection
pool (without waiting for the database: /healthz reports it) and the LISTEN task.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from functions.api.auth import TokenVerifier, hs256_secret
from functions.api.jwks import JwksCache, jwks_url
from functions.api.ratelimit import RateLimits
from functions.api.waiting import JobWaiter
from functions.core.db import AsyncConnection
from functions.core.settings import Settings
from functions.core.vault import KeyRing, Vault

#: How long a request waits for a free pooled connection before answering 503.
POOL_TIMEOUT_S = 5.0


@dataclass(kw_only=True)
class Runtime:
    settings: Settings
    vault: Vault
    verifier: TokenVerifier
    limits: RateLimits
    pool: AsyncConnectionPool[AsyncConnection]
    waiter: JobWaiter
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
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "application_name": "switchyard-functions",
                "prepare_threshold": 5 if settings.functions_prepared_statements else None,
            },
            open=False,
            name="switchyard-functions",
        )
        waiter = JobWaiter(
            conninfo if settings.functions_listen else None,
            poll_interval_s=settings.job_poll_interval_s,
        )
        return cls(
            settings=settings,
            vault=vault,
            verifier=verifier,
            limits=RateLimits.from_settings(settings),
            pool=pool,
            waiter=waiter,
            http=http,
            jwks=jwks,
        )

    async def start(self) -> None:
        await self.pool.open(wait=False)
        await self.waiter.start()

    async def stop(self) -> None:
        await self.waiter.stop()
        await self.pool.close()
        await self.http.aclose()

    def wait_s(self, requested: float | None) -> float:
        """The bounded wait of a request: `?wait=` if given, never above the maximum."""
        chosen = self.settings.wait_default_s if requested is None else requested
        return max(0.0, min(chosen, self.settings.wait_max_s))
