"""How OKX v5 authenticates a private request.

Headers ``OK-ACCESS-KEY``, ``-PASSPHRASE``, ``-TIMESTAMP`` (ISO 8601, milliseconds, Z) and
``-SIGN``: a base64 HMAC-SHA256, under the secret, of timestamp + METHOD + the request path
(``/api/v5/...``: the simulator's ``/okx`` prefix is not part of it) with ``?`` and the raw
query string when there is one + the raw body. The timestamp must be within 30 s of the
server's (50102). A demo key must send ``x-simulated-trading: 1`` and a live key must not
(50101). Every refusal here is HTTP 401, as on OKX.
"""

import base64
from datetime import datetime
from typing import Final

from .accounts import ApiKey
from .okx_shapes import auth_error
from .venue import VenueRequest, hmac_sha256, same

#: The auth headers and the code OKX answers when one is missing.
REQUIRED: Final = (
    ("KEY", "50103"),
    ("PASSPHRASE", "50104"),
    ("SIGN", "50106"),
    ("TIMESTAMP", "50107"),
)


def authenticate(request: VenueRequest) -> ApiKey:
    headers = request.headers
    for name, code in REQUIRED:
        if not headers.get(f"OK-ACCESS-{name}"):
            raise auth_error(code, f'Request header "OK-ACCESS-{name}" cannot be empty.')
    stamp = headers["OK-ACCESS-TIMESTAMP"]
    try:
        sent_ms = int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as exc:
        raise auth_error("50112", "Invalid OK-ACCESS-TIMESTAMP") from exc
    if abs(request.core.venue_now_ms() - sent_ms) > 30_000:
        raise auth_error("50102", "Timestamp request expired")
    key = request.core.keys.lookup("okx", headers["OK-ACCESS-KEY"])
    if key is None:
        raise auth_error("50111", "Invalid OK-ACCESS-KEY")
    simulated = headers.get("x-simulated-trading") == "1"
    if simulated != (key.environment == "demo"):
        raise auth_error("50101", "APIKey does not match current environment.")
    if not same(key.passphrase or "", headers["OK-ACCESS-PASSPHRASE"]):
        raise auth_error("50105", "OK-ACCESS-PASSPHRASE incorrect")
    target = request.path + (f"?{request.query}" if request.query else "")
    payload = stamp + request.method + target + request.body.decode()
    expected = base64.b64encode(hmac_sha256(key.api_secret, payload)).decode()
    if not same(expected, headers["OK-ACCESS-SIGN"]):
        raise auth_error("50113", "Invalid Sign")
    if not key.ip_allowed(request.client_ip):
        whitelist = f"Your IP {request.client_ip} is not included in your API key's IP whitelist."
        raise auth_error("50110", whitelist)
    return key
