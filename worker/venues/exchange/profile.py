"""What is particular to one exchange, as data: the only place an exchange's quirks live.

A `Profile` says which ccxt class to build and with which options (only the market types
we trade, no currency calls), how an environment is selected, which `urls['api']` keys a
configured override must give, how client order ids are spelled, how the key's
permissions are read, how an order is found again by our client order id, how a
perpetual's leverage is set, whether its orders take a stop loss and take profit (and
where a position's are read), and which of the exchange's error codes ccxt files under
the wrong exception. Everything else (the session, the loop, the reports, the error table) is
shared by every exchange.

Adding an exchange = one module in `worker/venues/exchange/exchanges/` that builds a
`Profile`, plus its line in `exchanges/__init__.py` (`PROFILES`); see `okx.py` for one
with a passphrase and a per-environment header, `coinbase.py` for one signing JWTs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from switchyard.domain import ClientOrderId, ErrorCode, Venue
from worker.venue import Entry

#: A ccxt.async_support exchange instance (ccxt ships no type information).
Ccxt = Any
#: A ccxt unified order / trade / position / market (a dict).
Unified = dict[str, Any]

#: How the key's permissions are stored (`accounts.permissions`): `known` False with a
#: `detail` when the exchange has no way to tell (Binance's testnet).
Permissions = dict[str, Any]


def permissions(*, read: bool, trade: bool, withdraw: bool, ip_restricted: bool) -> Permissions:
    return {
        "known": True,
        "read": read,
        "trade": trade,
        "withdraw": withdraw,
        "ip_restricted": ip_restricted,
    }


def unknown_permissions(detail: str) -> Permissions:
    return {"known": False, "detail": detail}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientIdFormat:
    """The exchange's rule for client order ids, and how ours is spelled to fit it."""

    pattern: re.Pattern[str]
    #: Ours (`sy` + 24 hex digits) as the exchange takes it; identity where it fits.
    spell: Callable[[ClientOrderId], str] = str

    def of(self, coid: ClientOrderId) -> str:
        spelled = self.spell(coid)
        if not self.pattern.fullmatch(spelled):
            raise ValueError(f"client order id {spelled!r} does not fit {self.pattern.pattern}")
        return spelled


@dataclass(frozen=True, slots=True, kw_only=True)
class StopsChange:
    """New stops of an open perpetual position, as `Profile.set_position_stops` sends them."""

    #: The unified symbol (BTC/USDT:USDT).
    symbol: str
    #: The position's side: "buy" for a long, "sell" for a short.
    side: str
    #: Trigger prices as text; None: the position has none and gets none.
    sl: str | None
    tp: str | None
    #: The modify job's client order id as the exchange takes it (OKX's `algoClOrdId` of an
    #: algo order it places), so that a retry finds what an earlier attempt placed.
    client_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    venue: Venue
    #: The ccxt.async_support class name.
    ccxt_id: str
    #: How sentences name it ("Binance").
    noun: str
    #: ccxt options: `fetchMarkets.types` (only what we trade), `fetchCurrencies` off, …
    options: Mapping[str, Any]
    #: Overrides of ccxt's `has` (`fetchCurrencies: False` where an option cannot say it).
    has: Mapping[str, Any] = field(default_factory=dict)
    #: environment -> how a new instance is put on it (sandbox, demo trading).
    environments: Mapping[str, Callable[[Ccxt], None]]
    #: The `urls['api']` keys an override (SWITCHYARD_EXCHANGE_API_URLS) must give.
    url_keys: frozenset[str]
    #: Whether the key set has a passphrase (ccxt's `password`).
    passphrase: bool = False
    client_ids: ClientIdFormat
    #: The ccxt param our client order id travels in (Coinbase: `client_order_id`; ccxt's
    #: coinbase drops `clientOrderId`).
    client_id_param: str = "clientOrderId"
    #: Whether a limit order's create answer (ids only, no status) is followed by a read of
    #: the order, so that one that filled at once is reported filled (Coinbase).
    read_after_create: bool = False
    #: Extra ccxt params of an order: (type, side, amount in the market's unit as text) ->
    #: params (Coinbase sizes a market buy in base currency this way).
    order_params: Callable[[str, str, str], Mapping[str, Any]] = lambda kind, side, amount: {}
    #: ccxt params per market type we trade, for calls that take no symbol (open orders,
    #: fills, positions); `None`: the exchange needs a symbol for them (Binance).
    scopes: tuple[Mapping[str, Any], ...] | None
    #: The key's permissions: (instance, environment) -> Permissions.
    read_permissions: Callable[[Ccxt, str], Awaitable[Permissions]]
    #: How to make a key without withdrawal, for the refusal's message.
    trade_only_help: str
    #: Our order, found by its client order id (open or done), or None.
    find_by_client_id: Callable[[Ccxt, str, str], Awaitable[Unified | None]]
    #: An order by the exchange's id, or None (raises OrderNotFound or answers None).
    fetch_order: Callable[[Ccxt, str, str], Awaitable[Unified | None]]
    #: Text in an error that means the key is refused whatever ccxt raised.
    credential_markers: tuple[str, ...] = ()
    #: Where the exchange's tokens carry our own clock (Coinbase's JWT): asked when a key is
    #: refused, it says whether our clock is the reason (then nothing is disabled), or None.
    clock_skew: Callable[[Ccxt], Coroutine[Any, Any, str | None]] | None = None
    #: Text in a bare ExchangeError that names a refusal, and the refusal's code.
    refusal_markers: Mapping[str, ErrorCode] = field(default_factory=dict)
    #: How a contract fill entered or left the position, from the exchange's own record.
    fill_entry: Callable[[Mapping[str, Any]], Entry | None] = lambda info: None
    #: The realised profit of a contract fill in the settle currency, from the exchange's
    #: own record (Bybit's `execPnl`, OKX's `fillPnl`); None: it does not say.
    fill_profit: Callable[[Mapping[str, Any]], Any] = lambda info: None
    #: How a perpetual's leverage is set: (instance, leverage, unified symbol), ccxt's
    #: set_leverage in the margin mode our orders use; the exchange's "already that value"
    #: counts as set. None: the exchange has no perpetuals switchyard trades.
    set_leverage: Callable[[Ccxt, int, str], Awaitable[None]] | None = None
    #: Whether a perpetual order may carry a stop loss and take profit, sent as ccxt's
    #: unified `stopLoss`/`takeProfit` params (`{'triggerPrice': …}`, closed at market).
    attached_stops: bool = False
    #: Where ccxt's unified position leaves `stopLossPrice`/`takeProfitPrice` empty (OKX
    #: keeps them as algo orders): (instance) -> {unified symbol: (sl, tp)}, read with the
    #: positions. None: the unified position carries them (Bybit).
    position_stops: Callable[[Ccxt], Awaitable[Mapping[str, tuple[Any, Any]]]] | None = None
    #: How an open perpetual position's stops are changed: (instance, the change). None: the
    #: exchange's are not changed by switchyard.
    set_position_stops: Callable[[Ccxt, StopsChange], Awaitable[Any]] | None = None
    #: Whether a stop an open position lacks may be added while it has the other (Bybit's
    #: trading-stop); OKX amends the legs its TP/SL algo order has and adds none.
    adds_stop_legs: bool = True
    #: ccxt params of an order that only reduces a perpetual position.
    reduce_only: Mapping[str, Any] = field(default_factory=lambda: {"reduceOnly": True})
    #: The currency balances and limits are stated in.
    quote: str = "USDT"
