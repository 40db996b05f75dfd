"""What each simulated venue lists: spot pairs everywhere, USDT perpetuals on Bybit and OKX.

Tick sizes, lot steps and minimums are the venues' own for these instruments, taken from
ccxt's static market fixtures (``ts/src/test/static/markets/{binance,bybit,okx,coinbase}.json``).
Quantities are in the venue's order unit: base currency, except OKX swaps, whose unit is
one contract of ``contract_value`` base currency (BTC-USDT-SWAP: 0.01 BTC).
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final


class Kind(StrEnum):
    SPOT = "spot"
    #: A USDT-margined linear perpetual.
    LINEAR = "linear"


@dataclass(frozen=True, kw_only=True)
class Instrument:
    exchange: str
    #: The venue's own identifier: ``BTCUSDT``, ``BTC-USDT``, ``BTC-USDT-SWAP``.
    id: str
    kind: Kind
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    #: Smallest order value in quote currency (0: the venue checks none).
    min_notional: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    contract_value: Decimal = Decimal(1)
    max_leverage: int = 1
    #: The fee of a buy is charged in quote currency on top of the price (Coinbase), not
    #: taken from the base currency received (Binance, Bybit, OKX).
    fee_in_quote: bool = False
    #: Largest order value in quote currency (0: the venue checks none).
    max_value: Decimal = Decimal(0)

    @property
    def linear(self) -> bool:
        return self.kind is Kind.LINEAR

    def base_qty(self, qty: Decimal) -> Decimal:
        """Base currency amount of ``qty`` order units."""
        return qty * self.contract_value


def _d(text: str) -> Decimal:
    return Decimal(text)


def _binance(base: str, tick: str, step: str, max_qty: str) -> Instrument:
    return Instrument(
        exchange="binance", id=f"{base}USDT", kind=Kind.SPOT, base=base, quote="USDT",
        tick=_d(tick), step=_d(step), min_qty=_d(step), max_qty=_d(max_qty),
        min_notional=_d("5"), maker_fee=_d("0.001"), taker_fee=_d("0.001"),
    )  # fmt: skip


def _bybit_spot(base: str, tick: str, step: str, min_qty: str, max_qty: str) -> Instrument:
    return Instrument(
        exchange="bybit", id=f"{base}USDT", kind=Kind.SPOT, base=base, quote="USDT",
        tick=_d(tick), step=_d(step), min_qty=_d(min_qty), max_qty=_d(max_qty),
        min_notional=_d("5"), maker_fee=_d("0.001"), taker_fee=_d("0.001"),
    )  # fmt: skip


def _bybit_linear(base: str, tick: str, step: str, max_qty: str) -> Instrument:
    return Instrument(
        exchange="bybit", id=f"{base}USDT", kind=Kind.LINEAR, base=base, quote="USDT",
        tick=_d(tick), step=_d(step), min_qty=_d(step), max_qty=_d(max_qty),
        min_notional=_d("5"), maker_fee=_d("0.0002"), taker_fee=_d("0.00055"), max_leverage=100,
    )  # fmt: skip


def _okx_spot(base: str, tick: str, step: str, min_qty: str) -> Instrument:
    return Instrument(
        exchange="okx", id=f"{base}-USDT", kind=Kind.SPOT, base=base, quote="USDT",
        tick=_d(tick), step=_d(step), min_qty=_d(min_qty), max_qty=_d("1000000"),
        min_notional=_d("0"), maker_fee=_d("0.0008"), taker_fee=_d("0.001"),
    )  # fmt: skip


def _okx_swap(base: str, tick: str, contract_value: str) -> Instrument:
    return Instrument(
        exchange="okx", id=f"{base}-USDT-SWAP", kind=Kind.LINEAR, base=base, quote="USDT",
        tick=_d(tick), step=_d("0.1"), min_qty=_d("0.1"), max_qty=_d("100000000"),
        min_notional=_d("0"), maker_fee=_d("0.0002"), taker_fee=_d("0.0005"),
        contract_value=_d(contract_value), max_leverage=100,
    )  # fmt: skip


def _coinbase(base: str, quote: str, max_qty: str, max_value: str) -> Instrument:
    """Intro-1 fees (ccxt's default tier; what ``transaction_summary`` reports here)."""
    return Instrument(
        exchange="coinbase", id=f"{base}-{quote}", kind=Kind.SPOT, base=base, quote=quote,
        tick=_d("0.01"), step=_d("0.00000001"), min_qty=_d("0.00000001"), max_qty=_d(max_qty),
        min_notional=_d("1"), maker_fee=_d("0.006"), taker_fee=_d("0.012"), fee_in_quote=True,
        max_value=_d(max_value),
    )  # fmt: skip


CATALOG: Final[tuple[Instrument, ...]] = (
    _binance("BTC", "0.01", "0.00001", "9000"),
    _binance("ETH", "0.01", "0.0001", "9000"),
    _bybit_spot("BTC", "0.1", "0.000001", "0.000011", "83"),
    _bybit_spot("ETH", "0.01", "0.00001", "0.00029", "4616.1353715"),
    _bybit_linear("BTC", "0.10", "0.001", "1190"),
    _bybit_linear("ETH", "0.01", "0.01", "7240"),
    _okx_spot("BTC", "0.1", "0.00000001", "0.00001"),
    _okx_spot("ETH", "0.01", "0.000001", "0.0001"),
    _okx_swap("BTC", "0.1", "0.01"),
    _okx_swap("ETH", "0.01", "0.1"),
    _coinbase("BTC", "USDT", "400", "10000000"),
    _coinbase("ETH", "USDT", "6200", "10000000"),
    _coinbase("BTC", "USDC", "3400", "150000000"),
)


def listed(exchange: str, kind: Kind | None = None) -> list[Instrument]:
    """The instruments ``exchange`` lists, optionally of one kind."""
    return [i for i in CATALOG if i.exchange == exchange and kind in (None, i.kind)]


def find(exchange: str, kind: Kind, instrument_id: str) -> Instrument | None:
    for instrument in CATALOG:
        if (instrument.exchange, instrument.kind, instrument.id) == (exchange, kind, instrument_id):
            return instrument
    return None


def on_step(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is a whole multiple of ``step``."""
    return (value % step) == 0
