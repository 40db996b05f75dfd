"""How Coinbase Advanced Trade authenticates a request: a CDP key's ES256 JWT.

``Authorization: Bearer <JWT>``, the JWT signed (ES256) with the key's EC P-256 private key,
its header carrying ``kid`` (the key name) and a ``nonce``, its claims::

    {"sub": "organizations/{org}/apiKeys/{id}", "iss": "cdp", "nbf": now, "exp": now + 120,
     "uri": "GET api.coinbase.com/api/v3/brokerage/accounts"}

``iss`` is ``cdp`` in Coinbase's SDK and ``coinbase-cloud`` (with ``aud``
``["retail_rest_api_proxy"]``) in ccxt 4.5.90; Coinbase takes both. ``uri`` is the method,
a space, the host and the path without the query (ccxt strips only ``https://``, so against
this plain-HTTP simulator it keeps ``http://``: both spellings of the host are accepted).
The token must be valid now (``nbf <= now < exp``) and live at most 120 s. Every refusal is
Coinbase's bare ``401 Unauthorized`` text page, which ccxt turns into AuthenticationError
(its body is not JSON, so ``handle_errors`` leaves it to the HTTP status).
"""

import functools
import logging
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from starlette.responses import Response

from .accounts import ApiKey
from .venue import Reply, VenueRequest

log = logging.getLogger("switchyard.sim.exchange.coinbase")

ISSUERS: Final = frozenset({"cdp", "coinbase-cloud"})
AUDIENCES: Final = frozenset({"retail_rest_api_proxy", "cdp_service"})
MAX_LIFETIME_S: Final = 120


class Unauthorized(Reply):
    """Coinbase's answer to any request whose JWT does not hold (``reason`` stays here)."""

    def __init__(self, reason: str) -> None:
        super().__init__(Response("Unauthorized\n", status_code=401, media_type="text/plain"))
        self.reason = reason
        log.info("coinbase: 401 Unauthorized (%s)", reason)


def authenticate(request: VenueRequest, prefix: str) -> ApiKey:
    """The key that signed ``request``; ``prefix`` is the simulator's ``/coinbase``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token:
        raise Unauthorized("no bearer token")
    try:
        head = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Unauthorized("not a JWT") from exc
    name = unverified.get("sub")
    if head.get("alg") != "ES256" or not head.get("nonce") or head.get("kid") != name:
        raise Unauthorized("header: alg ES256, a nonce and kid = sub are required")
    key = request.core.keys.lookup("coinbase", str(name)) if isinstance(name, str) else None
    if key is None:
        raise Unauthorized("unknown or revoked key")
    claims = _verified(token, key)
    _check_claims(request, claims, prefix)
    if not key.ip_allowed(request.client_ip):
        raise Unauthorized("address not allowed for this key")
    return key


@functools.lru_cache(maxsize=1024)
def _public_key(pem: str) -> Any:
    return load_pem_private_key(pem.encode(), password=None).public_key()


def _verified(token: str, key: ApiKey) -> dict[str, Any]:
    public = _public_key(key.api_secret)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public,
            algorithms=["ES256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("bad signature") from exc
    return claims


def _check_claims(request: VenueRequest, claims: dict[str, Any], prefix: str) -> None:
    if claims.get("iss") not in ISSUERS:
        raise Unauthorized("issuer")
    audience = claims.get("aud")
    if audience is not None and not (isinstance(audience, list) and AUDIENCES & set(audience)):
        raise Unauthorized("audience")
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if not isinstance(nbf, int) or not isinstance(exp, int) or exp - nbf > MAX_LIFETIME_S:
        raise Unauthorized("nbf/exp missing or the token lives over 120 s")
    now_s = request.core.venue_now_ms() // 1000
    if not nbf <= now_s < exp:
        raise Unauthorized("token not valid now")
    host = request.headers.get("host", "")
    target = f"{host}{prefix}{request.path}"
    wanted = {f"{request.method} {target}", f"{request.method} http://{target}"}
    uris = claims.get("uris") if "uri" not in claims else [claims.get("uri")]
    if not isinstance(uris, list) or not wanted & {u for u in uris if isinstance(u, str)}:
        raise Unauthorized("uri claim does not name this request")
