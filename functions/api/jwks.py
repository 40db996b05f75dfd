"""The Supabase project's signing keys (JWKS), fetched with httpx and cached.

- Keys are fetched lazily and kept for `ttl_s`; a stale cache is refreshed on use.
- A token with an unknown `kid` triggers a refetch (key rotation), but at most one
  fetch per `min_refetch_s`, however many such tokens arrive: a flood of made-up kids
  cannot turn into a flood of requests to Supabase.
- A failed fetch (outage, garbage) keeps the cached keys: requests signed by known
  keys keep working. A successful fetch replaces the set: a revoked key stops working.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from jwt import PyJWK

log = logging.getLogger("switchyard.functions.jwks")

#: The asymmetric algorithms accepted from a JWKS (Supabase signs with ES256 or RS256).
ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "RS256"})


def jwks_url(supabase_url: str) -> str:
    return supabase_url.rstrip("/") + "/auth/v1/.well-known/jwks.json"


def parse_jwks(document: Any) -> dict[str, PyJWK]:
    """The usable signing keys of a JWKS document, by kid; others are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")  # noqa: TRY004 - bad data, not a bad call
    keys: dict[str, PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg") not in ASYMMETRIC_ALGORITHMS:
            continue
        try:
            keys[entry["kid"]] = PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            log.warning("JWKS key %r is not a usable %s key; skipped", entry["kid"], entry["alg"])
    return keys


class JwksCache:
    """Signing keys by kid, refreshed on expiry and on an unknown kid (rate-bounded)."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient,
        ttl_s: float,
        min_refetch_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._client = client
        self._ttl_s = ttl_s
        self._min_refetch_s = min_refetch_s
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        #: How many fetches were attempted (tests and metrics read it).
        self.fetches = 0

    async def key(self, kid: str) -> PyJWK | None:
        """The key named `kid`, fetching the set when it is unknown or stale."""
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._ttl_s
        if kid in self._keys and not stale:
            return self._keys[kid]
        await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < self._min_refetch_s:
                return  # fetched (or tried) moments ago: use what we have
            self._attempted_at = now
            self.fetches += 1
            try:
                response = await self._client.get(self.url, headers={"accept": "application/json"})
                response.raise_for_status()
                keys = parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning(
                    "JWKS fetch from %s failed (%s); keeping %d cached key(s)",
                    self.url,
                    type(exc).__name__,
                    len(self._keys),
                )
                return
            self._keys = keys
            self._fetched_at = now
