"""How Binance authenticates a signed request (``SIGNED`` endpoints, spot and sapi).

``X-MBX-APIKEY`` names the key (64 alphanumerics: anything else is -2014); the signature
is a hex HMAC-SHA256, under the secret, of the query string concatenated with the form
body, each exactly as received with its ``signature=`` parameter left out (Binance's
``totalParams``). Then the timestamp window: ``timestamp < server time + 1000`` and
``server time - timestamp <= recvWindow`` (default 5000, at most 60000), else -1021.
An unknown, revoked or IP-restricted key gets -2015 (HTTP 401).
"""

import re
from typing import Final

from .accounts import ApiKey
from .binance_shapes import REJECTED_KEY, error, missing
from .venue import VenueRequest, hmac_sha256, same, to_decimal

KEY_FORMAT: Final = re.compile(r"^[A-Za-z0-9]{64}$")


def authenticate(request: VenueRequest, params: dict[str, str]) -> ApiKey:
    api_key = request.headers.get("X-MBX-APIKEY", "")
    if not KEY_FORMAT.match(api_key):
        raise error(401, -2014, "API-key format invalid.")
    key = request.core.keys.lookup("binance", api_key)
    if key is None or not key.ip_allowed(request.client_ip):
        raise error(*REJECTED_KEY)
    signature = params.get("signature")
    if not signature:
        raise missing("signature")
    payload = _unsigned(request.query) + _unsigned(request.body.decode())
    if not same(hmac_sha256(key.api_secret, payload).hex(), signature.lower()):
        raise error(400, -1022, "Signature for this request is not valid.")
    timestamp = params.get("timestamp", "")
    if not timestamp.isdigit():
        raise missing("timestamp")
    window = to_decimal(params.get("recvWindow")) or 5000
    if window > 60000:
        raise error(400, -1131, "recvWindow must be less than 60000")
    now = request.core.venue_now_ms()
    if int(timestamp) >= now + 1000:
        message = "Timestamp for this request was 1000ms ahead of the server's time."
        raise error(400, -1021, message)
    if now - int(timestamp) > window:
        raise error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    return key


def _unsigned(raw: str) -> str:
    """``raw`` (a query string or form body) without its ``signature`` parameter."""
    return "&".join(p for p in raw.split("&") if p and not p.startswith("signature="))
