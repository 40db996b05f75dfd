"""Coinbase Advanced Trade (`/api/v3/brokerage`): spot, a CDP key signing ES256 JWTs.

The key set is the CDP key's name (`apiKey`) and its EC private key in PEM (`secret`): ccxt
signs every private request with a JWT made from them. What is particular here:

- **Permissions** come from `key_permissions`: `can_view`, `can_trade`, `can_transfer`;
  a key that can transfer funds out is refused like a withdraw-enabled key. Coinbase does
  not say there whether the key is IP-restricted (`ip_restricted` is null: unknown).
- **Client order ids** travel as `client_order_id`: ccxt's `clientOrderId` is dropped by
  its coinbase `create_order`, which would send a random `ccxt-<uuid>` instead. Coinbase
  itself never places a second order for a client order id it has seen: it answers with
  the first one.
- **Market buys** are sized in base currency (`base_size`, which Coinbase takes since its
  SDK's v1.4): ccxt would send `quote_size` (amount × a price), so the order's
  configuration is given in the params; `volume` is then exactly what is bought.
- **Look-up by client order id**: Coinbase has no filter for it, so the product's orders
  are read newest first (`historical/batch`, paged by cursor) until ours is found.
- **An unknown order** is a 404 `NOT_FOUND` that ccxt raises as a bare ExchangeError (its
  broad "not found" entry never matches): read here as "not there".
- Only `live`: Advanced Trade has no testnet. ccxt signs with the local clock (its JWT's
  `nbf`/`exp`, not `timeDifference`), so a worker clock off by minutes is refused as an
  authentication failure: when a key is refused, Coinbase's time is read (`clock_skew`),
  and a clock more than 30 s off is reported as ours to fix (the job is retried, the
  account is not disabled). Keep the machine's clock synchronised (NTP).
"""

from __future__ import annotations

import re
from typing import Any, Final

import ccxt.async_support as ccxt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from switchyard.domain import ErrorCode, Venue
from switchyard.errors import CredentialsRejected
from worker.venues.exchange.profile import (
    Ccxt,
    ClientIdFormat,
    Permissions,
    Profile,
    Unified,
    permissions,
)

#: Pages of the product's order history read to find one order by its client order id.
LOOKUP_PAGES: Final = 10
LOOKUP_PAGE_SIZE: Final = 1000


async def read_permissions(exchange: Ccxt, environment: str) -> Permissions:
    answer: dict[str, Any] = await exchange.v3PrivateGetBrokerageKeyPermissions()
    found = permissions(
        read=bool(answer.get("can_view")),
        trade=bool(answer.get("can_trade")),
        withdraw=bool(answer.get("can_transfer")),
        ip_restricted=False,
    )
    return {**found, "ip_restricted": None}


def _not_found(exc: ccxt.ExchangeError) -> bool:
    return '"NOT_FOUND"' in str(exc) or "not found" in str(exc).lower()


async def fetch_order(exchange: Ccxt, order_id: str, symbol: str) -> Unified | None:
    try:
        order: Unified = await exchange.fetch_order(order_id, symbol)
    except ccxt.ExchangeError as exc:
        if type(exc) is ccxt.ExchangeError and _not_found(exc):
            return None
        raise
    return order


async def find_by_client_id(exchange: Ccxt, symbol: str, client_id: str) -> Unified | None:
    params: dict[str, Any] = {}
    for _ in range(LOOKUP_PAGES):
        page: list[Unified] = await exchange.fetch_orders(symbol, None, LOOKUP_PAGE_SIZE, params)
        for order in page:
            if order.get("clientOrderId") == client_id:
                return order
        # ccxt files the page's cursor under the first raw order (whatever its place now).
        cursors = [c for o in page if (c := (o.get("info") or {}).get("cursor"))]
        cursor = cursors[0] if cursors else None
        if not cursor:
            return None
        params = {"cursor": cursor}
    raise ccxt.ExchangeError(
        f"coinbase: client order id {client_id} not among the newest "
        f"{LOOKUP_PAGES * LOOKUP_PAGE_SIZE} orders of {symbol}: cannot tell whether it exists"
    )


#: How far the worker's clock may be from Coinbase's before its JWTs cannot hold.
CLOCK_TOLERANCE_MS: Final = 30_000


async def clock_skew(exchange: Ccxt) -> str | None:
    """Whether a 401 is our clock's doing: Coinbase's time against the worker's."""
    theirs = await exchange.fetch_time()
    off_ms = int(exchange.milliseconds()) - int(theirs)
    if abs(off_ms) <= CLOCK_TOLERANCE_MS:
        return None
    return (
        f"Coinbase refused the request, and the worker's clock is {off_ms / 1000:+.0f} s off "
        "Coinbase's: its signed tokens carry that clock, so every request is refused until "
        "the worker's clock is synchronised (NTP); the key itself may be fine"
    )


def order_params(kind: str, side: str, amount: str) -> dict[str, Any]:
    if kind == "market" and side == "buy":
        return {"order_configuration": {"market_market_ioc": {"base_size": amount}}}
    return {}


def _live(exchange: Ccxt) -> None:
    """Advanced Trade has one environment. A key set that cannot sign (its secret not an EC
    P-256 private key in PEM) is refused here, before any request: inside ccxt's signing
    it would fail as a bare ValueError. The functions check the shape on the way in; this
    catches credentials stored some other way."""
    if not exchange.secret:
        return  # the keyless instance that loads markets
    try:
        key = load_pem_private_key(str(exchange.secret).encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise CredentialsRejected(
            "the stored Coinbase API secret is not an EC P-256 private key in PEM: "
            "replace the credentials with the CDP key's private key"
        )


#: Coinbase's preview failure reasons that ccxt raises as a bare ExchangeError.
REFUSALS: Final = {
    "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL": ErrorCode.INVALID_VOLUME,
    "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE": ErrorCode.INVALID_VOLUME,
    "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL": ErrorCode.INVALID_VOLUME,
    "PREVIEW_INVALID_QUOTE_SIZE_TOO_LARGE": ErrorCode.INVALID_VOLUME,
    "PREVIEW_INVALID_SIZE_PRECISION": ErrorCode.INVALID_VOLUME,
    "PREVIEW_INVALID_PRICE_PRECISION": ErrorCode.INVALID_PRICE,
    "PREVIEW_INVALID_LIMIT_PRICE": ErrorCode.INVALID_PRICE,
}


PROFILE = Profile(
    venue=Venue.COINBASE,
    ccxt_id="coinbase",
    noun="Coinbase",
    options={
        # Advanced Trade's accounts (v3), not the Coinbase App's (ccxt's default, v2).
        "fetchBalance": "v3PrivateGetBrokerageAccounts",
        "fetchTime": "v3PublicGetBrokerageTime",
        # A market buy is sized by base_size (order_params): no price needed.
        "createMarketBuyOrderRequiresPrice": False,
    },
    has={"fetchCurrencies": False},
    environments={"live": _live},
    url_keys=frozenset({"rest"}),
    # Any string; ours (sy + 24 hex digits) as it is.
    client_ids=ClientIdFormat(pattern=re.compile(r"[A-Za-z0-9_-]{1,64}")),
    client_id_param="client_order_id",
    order_params=order_params,
    read_after_create=True,  # a create answers ids only: a marketable limit is read back
    scopes=None,  # spot only: open orders account-wide, fills per market
    read_permissions=read_permissions,
    trade_only_help=(
        "On Coinbase: Settings → API → Create API key (CDP) with the permissions 'View' "
        "and 'Trade' only (leave 'Transfer' unticked) and the ECDSA signature algorithm"
    ),
    find_by_client_id=find_by_client_id,
    fetch_order=fetch_order,
    refusal_markers=REFUSALS,
    clock_skew=clock_skew,
    quote="USDT",
)
