"""Orders and fills in venue-neutral terms, and why the engine refuses an order.

Each venue module translates these into its own wire shapes and error bodies.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from .instruments import Instrument


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class Status(StrEnum):
    #: Resting on the book, nothing filled.
    NEW = "new"
    FILLED = "filled"
    CANCELED = "canceled"

    @property
    def is_open(self) -> bool:
        return self is Status.NEW


class Reason(StrEnum):
    """Why an order (or a request about one) is refused; each venue has its code for each."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    BAD_PARAMETER = "bad_parameter"
    QTY_STEP = "qty_step"
    QTY_TOO_SMALL = "qty_too_small"
    QTY_TOO_LARGE = "qty_too_large"
    PRICE_TICK = "price_tick"
    NOTIONAL_TOO_SMALL = "notional_too_small"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    REDUCE_ONLY_REJECTED = "reduce_only_rejected"
    ORDER_NOT_FOUND = "order_not_found"
    LEVERAGE_NOT_MODIFIED = "leverage_not_modified"
    LEVERAGE_INVALID = "leverage_invalid"


class Rejected(Exception):  # noqa: N818 - a refusal the venue answers, not a failure
    """The engine refused a request; ``reason`` picks the venue's error, ``detail`` explains,
    ``asset`` names the currency that was short (OKX puts it in its message)."""

    def __init__(self, reason: Reason, detail: str = "", asset: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail
        self.asset = asset


@dataclass(frozen=True, kw_only=True)
class Attached:
    """The stop loss and take profit an order carries (trigger prices, closed at market),
    to become its position's once it fills."""

    sl: Decimal | None = None
    tp: Decimal | None = None

    def __bool__(self) -> bool:
        return self.sl is not None or self.tp is not None


NO_STOPS = Attached()


@dataclass(frozen=True, kw_only=True)
class OrderRequest:
    instrument: Instrument
    side: Side
    type: OrderType
    #: In order units (base currency; contracts on OKX swaps). None with ``quote_qty``.
    qty: Decimal | None
    price: Decimal | None = None
    #: A market buy sized in quote currency (Binance quoteOrderQty, Bybit/OKX quote unit).
    quote_qty: Decimal | None = None
    client_id: str = ""
    reduce_only: bool = False
    time_in_force: str = "GTC"
    #: Whether the venue rejects a client id used by any earlier order, or only by open ones.
    client_id_unique_forever: bool = False
    #: The stop loss / take profit attached (perpetuals), checked by the venue module.
    stops: Attached = NO_STOPS


@dataclass(kw_only=True)
class Fill:
    trade_id: int
    #: The trade id as the venue spells it.
    venue_id: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    time_ms: int
    #: Realised profit of a perpetual fill in the settle currency (0 on spot).
    realized_pnl: Decimal = Decimal(0)


@dataclass(kw_only=True)
class Order:
    id: int
    #: The order id as the venue spells it (Binance 8 digits, Bybit a UUID, OKX 18 digits).
    venue_id: str
    #: ``exchange:account``, the wallet the order trades.
    account: str
    api_key: str
    instrument: Instrument
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None
    client_id: str
    reduce_only: bool
    time_in_force: str
    created_ms: int
    updated_ms: int
    status: Status = Status.NEW
    quote_qty: Decimal | None = None
    filled: Decimal = Decimal(0)
    #: Sum of price x base quantity over fills, in quote currency.
    filled_value: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    fills: list[Fill] = field(default_factory=list)
    #: Quote (spot buy) or base (spot sell) held back while a limit order rests.
    locked: Decimal = Decimal(0)
    #: The stops it attached: its position's once it fills.
    stops: Attached = NO_STOPS
    #: "sl" / "tp": the venue placed it when the position's stop was reached.
    trigger: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled if self.status.is_open else Decimal(0)

    @property
    def average(self) -> Decimal | None:
        if not self.filled:
            return None
        base = self.instrument.base_qty(self.filled)
        return (self.filled_value / base).quantize(self.instrument.tick / 100).normalize()
