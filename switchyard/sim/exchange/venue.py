"""The seam every simulated venue plugs into, and what the venue modules share.

A venue is one object satisfying ``Venue``, in its own module (``binance.py``,
``bybit.py``, ``okx.py``: its paths and its error table), with two companions kept apart
to stay small: ``<venue>_signing.py`` (how it authenticates a request) and
``<venue>_shapes.py`` (its body shapes). It talks to the shared core only through
``Core``. The fourth venue (Coinbase Advanced Trade, ES256 JWTs) is those three files and
one line in ``app.VENUES`` (plus its products in ``instruments.py``).
The HTTP app strips the venue's prefix (``/binance``, ``/bybit``, ``/okx``, ``/coinbase``)
and hands the request over as it arrived: the raw query string and body, as the venue's own
signature check needs them.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import Response

from .accounts import ApiKey, KeyRing
from .engine import Engine
from .faults import FaultKind
from .instruments import Instrument, Kind, find, listed


class Core(Protocol):
    """What a venue may use of the simulator."""

    keys: KeyRing
    engine: Engine

    def venue_now_ms(self) -> int:
        """The venues' clock as the timestamp checks see it (moved by the clock-skew fault)."""
        ...

    def instrument(self, exchange: str, kind: Kind, instrument_id: str) -> Instrument | None: ...


@dataclass
class VenueRequest:
    method: str
    #: The path inside the venue, its prefix stripped: ``/api/v3/order``.
    path: str
    #: The query string exactly as received (still percent-encoded).
    query: str
    body: bytes
    headers: Headers
    client_ip: str
    core: Core
    #: Set by the venue when this request placed an order (arms the after-execution faults).
    placed_order: bool = False

    def query_params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def form_params(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json_body(self) -> Any:
        return json.loads(self.body) if self.body.strip() else {}


class Reply(Exception):  # noqa: N818 - an answer, raised to leave the handler early
    """Answer the request with ``response`` now (an error the venue returns)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Venue(Protocol):
    name: str

    def places_order(self, method: str, path: str) -> bool:
        """Whether a request to ``path`` places an order (faults may target only those)."""
        ...

    def order_id(self, number: int, kind: Kind) -> str: ...

    def trade_id(self, number: int) -> str: ...

    def rate_limited(self, kind: FaultKind, client_ip: str) -> Response:
        """The venue's answer when it throttles (``RATE_LIMIT``) or bans (``IP_BAN``)."""
        ...

    def maintenance(self) -> Response: ...

    async def handle(self, request: VenueRequest) -> Response: ...


def json_response(
    payload: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(payload, separators=(",", ":"))
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def gateway_error(status: int = 502) -> Response:
    """The bare HTML page a CDN or load balancer answers when the venue behind it is down."""
    title = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable"}.get(
        status, f"{status} Error"
    )
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(page, status_code=status, media_type="text/html")


def hmac_sha256(secret: str, message: str) -> bytes:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(a.encode(), b.encode())


def text(value: Decimal | None, places: int | None = None) -> str:
    """A decimal as the venues print it: fixed ``places`` decimals, or its plain digits."""
    if value is None:
        return ""
    if places is not None:
        return f"{value:.{places}f}"
    normalized = value.normalize()
    return f"{normalized:f}" if normalized != 0 else "0"


def to_decimal(raw: object) -> Decimal | None:
    """A number parameter as a Decimal; None when absent or not a number."""
    if raw is None or isinstance(raw, bool) or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def page_size(raw: object, most: int) -> int:
    """A ``limit`` parameter clamped to [1, most]; ``most`` when absent."""
    value = to_decimal(raw)
    return most if value is None else max(1, min(int(value), most))


def instruments_of(exchange: str, kind: Kind | None = None) -> list[Instrument]:
    return listed(exchange, kind)


def lookup(exchange: str, kind: Kind, instrument_id: str) -> Instrument | None:
    return find(exchange, kind, instrument_id)


def key_of(core: Core, exchange: str, api_key: str | None) -> ApiKey | None:
    return core.keys.lookup(exchange, api_key) if api_key else None
