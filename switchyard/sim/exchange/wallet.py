"""One account's money: spot balances (free and locked) and perpetual positions.

Perpetuals are USDT-margined, cross margin, one-way (net) mode: one signed position per
instrument, settled in the quote currency. Initial margin is notional / leverage; the
unrealised profit is marked at the shared mid price.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from .instruments import Instrument
from .orders import Reason, Rejected

ZERO = Decimal(0)


@dataclass
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass
class Position:
    instrument: Instrument
    #: Signed, in order units: positive long, negative short.
    qty: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    created_ms: int = 0
    updated_ms: int = 0
    #: The stop loss and take profit (prices) the opening orders attached; None: none.
    sl: Decimal | None = None
    tp: Decimal | None = None
    #: The client id (OKX ``algoClOrdId``) of the algo order that set the stops after the
    #: position opened (OKX ``order-algo``); "" for stops an opening order attached.
    algo_client_id: str = ""
    #: Whether those stops close the whole position whatever its size (``closeFraction`` 1).
    algo_closes_all: bool = False

    def notional(self, price: Decimal) -> Decimal:
        return abs(self.instrument.base_qty(self.qty)) * price

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return self.instrument.base_qty(self.qty) * (mark - self.entry_price)


@dataclass
class Wallet:
    account: str
    balances: dict[str, Balance] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    #: Leverage per perpetual instrument id (default: DEFAULT_LEVERAGE).
    leverage: dict[str, int] = field(default_factory=dict)
    #: How many set-leverage requests each perpetual instrument id was sent (refused ones
    #: too), for tests that a client sets it once (``GET /_sim/leverage``).
    leverage_requests: dict[str, int] = field(default_factory=dict)

    DEFAULT_LEVERAGE = 10

    @classmethod
    def funded(cls, account: str, amounts: dict[str, Decimal]) -> "Wallet":
        return cls(account, {asset: Balance(free=amount) for asset, amount in amounts.items()})

    def balance(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    def lock(self, asset: str, amount: Decimal) -> None:
        balance = self.balance(asset)
        if balance.free < amount:
            raise Rejected(Reason.INSUFFICIENT_FUNDS, f"free {balance.free} < {amount}", asset)
        balance.free -= amount
        balance.locked += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        balance = self.balance(asset)
        balance.locked -= amount
        balance.free += amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        self.balance(asset).locked -= amount

    def credit(self, asset: str, amount: Decimal) -> None:
        """Add (or, negative, take) ``amount`` of free ``asset``."""
        self.balance(asset).free += amount

    def settle_spot_buy(
        self, instrument: Instrument, base: Decimal, value: Decimal, fee: Decimal, locked: Decimal
    ) -> None:
        """Pay ``value`` quote (from the order's ``locked`` quote, if any) for ``base``; the fee
        is taken from the base received, as Binance, Bybit and OKX take it (Coinbase charges
        it in quote currency: the engine passes it inside ``value`` and ``fee`` 0)."""
        if locked:
            self.spend_locked(instrument.quote, value)
            self.unlock(instrument.quote, locked - value)
        else:
            self.credit(instrument.quote, -value)
        self.credit(instrument.base, base - fee)

    def settle_spot_sell(
        self, instrument: Instrument, base: Decimal, value: Decimal, fee: Decimal, locked: Decimal
    ) -> None:
        """Deliver ``base`` (locked, if the order rested) for ``value`` quote less the fee."""
        if locked:
            self.spend_locked(instrument.base, base)
        else:
            self.credit(instrument.base, -base)
        self.credit(instrument.quote, value - fee)

    def leverage_of(self, instrument: Instrument) -> int:
        return self.leverage.get(instrument.id, self.DEFAULT_LEVERAGE)

    def position(self, instrument: Instrument) -> Position:
        return self.positions.setdefault(instrument.id, Position(instrument))

    def position_margin(self, marks: dict[str, Decimal]) -> Decimal:
        """Initial margin held by every open position, at each position's mark."""
        return sum(
            (
                p.notional(marks[p.instrument.id]) / self.leverage_of(p.instrument)
                for p in self.positions.values()
                if p.qty
            ),
            ZERO,
        )

    def unrealized(self, marks: dict[str, Decimal]) -> Decimal:
        return sum(
            (p.unrealized_pnl(marks[p.instrument.id]) for p in self.positions.values() if p.qty),
            ZERO,
        )

    def apply_perp_fill(
        self, instrument: Instrument, signed_qty: Decimal, price: Decimal, now_ms: int
    ) -> Decimal:
        """Move the position by ``signed_qty`` at ``price``; the realised profit it books."""
        position = self.position(instrument)
        if not position.qty:
            position.created_ms = now_ms
        realized = ZERO
        same_direction = position.qty * signed_qty > 0
        if position.qty and not same_direction:
            closing = min(abs(signed_qty), abs(position.qty))
            direction = 1 if position.qty > 0 else -1
            realized = instrument.base_qty(closing) * (price - position.entry_price) * direction
            remainder = abs(signed_qty) - closing
            position.qty += closing * -direction
            if remainder:  # the order flipped the position: the rest opens at this price
                position.qty = remainder * (1 if signed_qty > 0 else -1)
                position.entry_price = price
                position.sl = position.tp = None  # the old side's stops do not carry over
                position.algo_client_id, position.algo_closes_all = "", False
            elif not position.qty:
                position.entry_price = ZERO
                position.sl = position.tp = None  # a flat position keeps no stops
                position.algo_client_id, position.algo_closes_all = "", False
        else:
            total = position.qty + signed_qty
            position.entry_price = (
                position.entry_price * abs(position.qty) + price * abs(signed_qty)
            ) / abs(total)
            position.qty = total
        position.realized_pnl += realized
        position.updated_ms = now_ms
        self.credit(instrument.quote, realized)
        return realized
