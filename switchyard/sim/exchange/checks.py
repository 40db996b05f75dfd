"""Pre-trade checks: filters (step, minimum, maximum, tick, notional), client order id
reuse, spot funds and perpetual margin. Each failure is a ``Rejected`` with the reason
the venue modules turn into their own error."""

from collections.abc import Iterable
from decimal import Decimal

from .instruments import Instrument, on_step
from .orders import Order, OrderRequest, OrderType, Reason, Rejected, Side
from .wallet import ZERO, Wallet


def check_filters(request: OrderRequest, qty: Decimal, price: Decimal) -> None:
    """``price`` is the limit price, or the price a market order would take."""
    instrument = request.instrument
    if qty <= 0:
        raise Rejected(Reason.QTY_TOO_SMALL, f"quantity {qty}")
    if not on_step(qty, instrument.step):
        raise Rejected(Reason.QTY_STEP, f"{qty} is not a multiple of {instrument.step}")
    if qty < instrument.min_qty:
        raise Rejected(Reason.QTY_TOO_SMALL, f"{qty} < {instrument.min_qty}")
    if qty > instrument.max_qty:
        raise Rejected(Reason.QTY_TOO_LARGE, f"{qty} > {instrument.max_qty}")
    if request.type is OrderType.LIMIT:
        if request.price is None or request.price <= 0:
            raise Rejected(Reason.BAD_PARAMETER, "price")
        if not on_step(request.price, instrument.tick):
            raise Rejected(Reason.PRICE_TICK, f"{request.price} is off tick {instrument.tick}")
    notional = instrument.base_qty(qty) * price
    if notional < instrument.min_notional and not request.reduce_only:
        raise Rejected(Reason.NOTIONAL_TOO_SMALL, f"{notional} < {instrument.min_notional}")


def check_client_id(request: OrderRequest, earlier: Iterable[Order]) -> None:
    """Binance and OKX refuse a client id only while an order using it is open; Bybit always."""
    if not request.client_id:
        return
    for order in earlier:
        if order.client_id == request.client_id and (
            request.client_id_unique_forever or order.status.is_open
        ):
            raise Rejected(Reason.DUPLICATE_CLIENT_ID, request.client_id)


def buy_hold(instrument: Instrument, qty: Decimal, price: Decimal) -> Decimal:
    """Quote currency a spot buy of ``qty`` at ``price`` needs: the fee too where it is
    charged in quote currency (held at the taker rate, the most it can cost)."""
    value = qty * price
    return value * (1 + instrument.taker_fee) if instrument.fee_in_quote else value


def check_spot_funds(wallet: Wallet, request: OrderRequest, qty: Decimal, price: Decimal) -> None:
    instrument = request.instrument
    if request.side is Side.BUY:
        needed, asset = buy_hold(instrument, qty, price), instrument.quote
    else:
        needed, asset = qty, instrument.base
    if wallet.balance(asset).free < needed:
        raise Rejected(Reason.INSUFFICIENT_FUNDS, f"{asset} free < {needed}", asset)


def check_margin(
    wallet: Wallet, request: OrderRequest, qty: Decimal, price: Decimal, available: Decimal
) -> None:
    """The initial margin of what the order adds to the position, plus its taker fee."""
    if request.reduce_only:
        return
    instrument = request.instrument
    position = wallet.position(instrument).qty
    signed = qty if request.side is Side.BUY else -qty
    opening = max(abs(position + signed) - abs(position), ZERO)
    notional = instrument.base_qty(opening) * price
    needed = notional / wallet.leverage_of(instrument) + notional * instrument.taker_fee
    if needed > available:
        raise Rejected(Reason.INSUFFICIENT_FUNDS, f"margin {needed}", instrument.quote)


def clip_reduce_only(wallet: Wallet, request: OrderRequest, qty: Decimal) -> Decimal:
    """A reduce-only order may only shrink the position, and at most to zero."""
    position = wallet.position(request.instrument).qty
    reduces = (position > 0 and request.side is Side.SELL) or (
        position < 0 and request.side is Side.BUY
    )
    if not reduces:
        raise Rejected(Reason.REDUCE_ONLY_REJECTED, "no position to reduce on this side")
    return min(qty, abs(position))
