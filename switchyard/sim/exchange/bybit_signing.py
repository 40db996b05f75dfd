"""How Bybit v5 authenticates a private request.

Headers ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` (default 5000) and
``X-BAPI-SIGN``: a hex HMAC-SHA256, under the secret, of timestamp + key + recv window +
the raw query string (GET) or the raw JSON body (POST), exactly as received. The timestamp
must lie in [server - recv window, server + 1000), else 10002. An unknown or revoked key is
10003, a bad signature 10004 (ccxt: AuthenticationError), a foreign IP 10010
(PermissionDenied).
"""

from .accounts import ApiKey
from .bybit_shapes import error
from .venue import VenueRequest, hmac_sha256, same


def authenticate(request: VenueRequest) -> ApiKey:
    headers = request.headers
    api_key = headers.get("X-BAPI-API-KEY", "")
    key = request.core.keys.lookup("bybit", api_key) if api_key else None
    if key is None:
        raise error(request, 10003, "API key is invalid.")
    if not key.ip_allowed(request.client_ip):
        raise error(request, 10010, "Unmatched IP, please check your API key's bound IP addresses.")
    timestamp, window = (
        headers.get("X-BAPI-TIMESTAMP", ""),
        headers.get("X-BAPI-RECV-WINDOW", "5000"),
    )
    now = request.core.venue_now_ms()
    if not timestamp.isdigit() or not window.isdigit():
        raise error(
            request, 10002, "invalid request, please check your timestamp and recv_window param"
        )
    if not now - int(window) <= int(timestamp) < now + 1000:
        raise error(
            request, 10002,
            f"invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{timestamp}],server_timestamp[{now}],recv_window[{window}]",
        )  # fmt: skip
    payload = request.query if request.method == "GET" else request.body.decode()
    origin = timestamp + api_key + window + payload
    if not same(hmac_sha256(key.api_secret, origin).hex(), headers.get("X-BAPI-SIGN", "").lower()):
        raise error(request, 10004, f"error sign! origin_string[{origin}]")
    return key
