"""The matching engine: checks, fills, resting limit orders, balances and positions.

Market orders fill at once against the shared feed (buys at the ask, sells at the bid, as
takers). A limit order that crosses fills at once the same way; otherwise it rests, holding
its funds, and fills at its own price (as maker) once the feed crosses it: ``sweep()`` runs
before every request the simulator answers. Every fill is written to the ledger.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from .accounts import ApiKey
from .checks import (
    buy_hold,
    check_client_id,
    check_filters,
    check_margin,
    check_spot_funds,
    clip_reduce_only,
)
from .instruments import Instrument, Kind
from .ledger import Ledger, fill_entry
from .orders import Fill, Order, OrderRequest, OrderType, Reason, Rejected, Side, Status
from .prices import Clock, PriceFeed
from .stops import reached
from .wallet import ZERO, Wallet

#: Formats the engine's running numbers as a venue's order ids (per market kind) ...
OrderIdFormat = Callable[[int, Kind], str]
#: ... and its trade ids.
IdFormat = Callable[[int], str]


@dataclass
class Engine:
    feed: PriceFeed
    clock: Clock
    ledger: Ledger
    wallets: dict[str, Wallet] = field(default_factory=dict)
    #: Every order, by account (``exchange:account``), oldest first.
    orders: dict[str, list[Order]] = field(default_factory=dict)
    #: Limit orders that rested on the book (some since filled or canceled).
    resting: list[Order] = field(default_factory=list)
    order_ids: dict[str, OrderIdFormat] = field(default_factory=dict)
    trade_ids: dict[str, IdFormat] = field(default_factory=dict)
    _sequence: int = 0

    # -- accounts -------------------------------------------------------------------
    def open_account(self, key: ApiKey) -> None:
        account = f"{key.exchange}:{key.account}"
        if account not in self.wallets or (
            key.balances and not any(b.total for b in self.wallets[account].balances.values())
        ):
            self.wallets[account] = Wallet.funded(account, key.balances)

    def wallet(self, key: ApiKey) -> Wallet:
        return self.wallets[f"{key.exchange}:{key.account}"]

    def marks(self, instruments: list[Instrument]) -> dict[str, Decimal]:
        return {i.id: self.feed.mid(i.base) for i in instruments}

    def open_positions(self, key: ApiKey) -> list[Instrument]:
        return [p.instrument for p in self.wallet(key).positions.values() if p.qty]

    def available_margin(self, key: ApiKey, quote: str = "USDT") -> Decimal:
        """Free quote currency not held by positions or resting perpetual orders."""
        wallet = self.wallet(key)
        held = self.open_positions(key)
        marks = self.marks(held)
        upl = wallet.unrealized(marks)
        return (
            wallet.balance(quote).free
            - wallet.position_margin(marks)
            - self.order_margin(key)
            + min(upl, ZERO)
        )

    def order_margin(self, key: ApiKey) -> Decimal:
        wallet = self.wallet(key)
        return sum(
            (
                o.instrument.base_qty(o.remaining)
                * (o.price or ZERO)
                / wallet.leverage_of(o.instrument)
                for o in self.open_orders(key)
                if o.instrument.linear and not o.reduce_only
            ),
            ZERO,
        )

    # -- look-ups -------------------------------------------------------------------
    def orders_of(self, key: ApiKey, instrument: Instrument | None = None) -> Iterator[Order]:
        for order in self.orders.get(f"{key.exchange}:{key.account}", []):
            if instrument in (None, order.instrument):
                yield order

    def open_orders(self, key: ApiKey, instrument: Instrument | None = None) -> list[Order]:
        return [o for o in self.orders_of(key, instrument) if o.status.is_open]

    def find(
        self,
        key: ApiKey,
        instrument: Instrument | None,
        *,
        venue_id: str | None = None,
        client_id: str | None = None,
    ) -> Order | None:
        """The newest order with this venue order id, or else with this client id."""
        if venue_id is None and client_id is None:
            return None
        if venue_id is not None:
            client_id = None
        found = self.query(key, instrument=instrument, venue_id=venue_id, client_id=client_id)
        return found[0] if found else None

    def query(
        self,
        key: ApiKey,
        *,
        kind: Kind | None = None,
        instrument: Instrument | None = None,
        venue_id: str | None = None,
        client_id: str | None = None,
    ) -> list[Order]:
        """The account's orders matching every filter given, newest first."""
        found = [
            o
            for o in self.orders_of(key, instrument)
            if kind in (None, o.instrument.kind)
            and venue_id in (None, o.venue_id)
            and client_id in (None, o.client_id)
        ]
        return found[::-1]

    def fills_of(
        self, key: ApiKey, instrument: Instrument | None = None
    ) -> list[tuple[Order, Fill]]:
        found = [(o, f) for o in self.orders_of(key, instrument) for f in o.fills]
        return sorted(found, key=lambda pair: pair[1].trade_id)

    # -- placing ----------------------------------------------------------------------
    def place(self, key: ApiKey, request: OrderRequest) -> Order:
        instrument = request.instrument
        quote = self.feed.quote(instrument)
        taker_price = quote.ask if request.side is Side.BUY else quote.bid
        qty = request.qty
        if qty is None:
            if request.quote_qty is None or request.quote_qty <= 0:
                raise Rejected(Reason.BAD_PARAMETER, "quantity")
            per_unit = taker_price * instrument.contract_value
            if instrument.fee_in_quote:  # the quote size pays the fee too
                per_unit *= 1 + instrument.taker_fee
            units = request.quote_qty / per_unit
            qty = (units / instrument.step).to_integral_value(ROUND_FLOOR) * instrument.step
        self._check(key, request, qty, taker_price)
        wallet = self.wallet(key)
        if instrument.linear and request.reduce_only:
            qty = clip_reduce_only(wallet, request, qty)
        now = self.clock.now_ms()
        self._sequence += 1
        order = Order(
            id=self._sequence,
            venue_id=self.order_ids[key.exchange](self._sequence, instrument.kind),
            account=wallet.account,
            api_key=key.api_key,
            instrument=instrument,
            side=request.side,
            type=request.type,
            qty=qty,
            price=request.price,
            quote_qty=request.quote_qty,
            client_id=request.client_id,
            reduce_only=request.reduce_only,
            time_in_force=request.time_in_force,
            created_ms=now,
            updated_ms=now,
            stops=request.stops,
        )
        crosses = request.type is OrderType.MARKET or (
            request.price is not None
            and (
                taker_price <= request.price
                if request.side is Side.BUY
                else taker_price >= request.price
            )
        )
        if crosses:
            self._fill(wallet, order, taker_price, maker=False)
        elif request.time_in_force in ("IOC", "FOK"):
            order.status = Status.CANCELED  # nothing crossed: expired, never rested
        else:
            self._rest(wallet, order)
        self.orders.setdefault(wallet.account, []).append(order)
        return order

    def _check(self, key: ApiKey, request: OrderRequest, qty: Decimal, taker: Decimal) -> None:
        wallet = self.wallet(key)
        price = request.price if request.type is OrderType.LIMIT and request.price else taker
        check_filters(request, qty, price)
        check_client_id(request, self.orders_of(key))
        if request.instrument.linear:
            available = self.available_margin(key, request.instrument.quote)
            check_margin(wallet, request, qty, price, available)
        else:
            check_spot_funds(wallet, request, qty, price)

    def _rest(self, wallet: Wallet, order: Order) -> None:
        instrument = order.instrument
        self.resting.append(order)
        if instrument.linear:
            return
        assert order.price is not None
        if order.side is Side.BUY:
            order.locked = buy_hold(instrument, order.qty, order.price)
            wallet.lock(instrument.quote, order.locked)
        else:
            order.locked = order.qty
            wallet.lock(instrument.base, order.locked)

    def _fill(self, wallet: Wallet, order: Order, price: Decimal, *, maker: bool) -> None:
        instrument = order.instrument
        qty = order.qty - order.filled
        base = instrument.base_qty(qty)
        value = base * price
        rate = instrument.maker_fee if maker else instrument.taker_fee
        now = self.clock.now_ms()
        realized = ZERO
        if instrument.linear:
            signed = qty if order.side is Side.BUY else -qty
            realized = wallet.apply_perp_fill(instrument, signed, price, now)
            fee, fee_asset = value * rate, instrument.quote
            wallet.credit(fee_asset, -fee)
        elif order.side is Side.BUY and instrument.fee_in_quote:
            fee, fee_asset = value * rate, instrument.quote
            wallet.settle_spot_buy(instrument, base, value + fee, ZERO, order.locked)
        elif order.side is Side.BUY:
            fee, fee_asset = base * rate, instrument.base
            wallet.settle_spot_buy(instrument, base, value, fee, order.locked)
        else:
            fee, fee_asset = value * rate, instrument.quote
            wallet.settle_spot_sell(instrument, base, value, fee, order.locked)
        order.locked = ZERO
        self._sequence += 1
        fill = Fill(
            trade_id=self._sequence,
            venue_id=self.trade_ids[instrument.exchange](self._sequence),
            qty=qty,
            price=price,
            fee=fee,
            fee_asset=fee_asset,
            maker=maker,
            time_ms=now,
            realized_pnl=realized,
        )
        order.fills.append(fill)
        order.filled += qty
        order.filled_value += value
        order.fee += fee
        order.fee_asset = fee_asset
        order.status = Status.FILLED
        order.updated_ms = now
        if instrument.linear and order.stops and not order.reduce_only:
            position = wallet.position(instrument)  # Bybit's Full mode: the whole position's
            position.sl, position.tp = order.stops.sl, order.stops.tp
            position.algo_client_id, position.algo_closes_all = "", False
        self.ledger.append(fill_entry(order, fill))

    # -- changing -----------------------------------------------------------------------
    def cancel(self, order: Order) -> Order:
        if not order.status.is_open:
            raise Rejected(Reason.ORDER_NOT_FOUND, f"order {order.venue_id} is {order.status}")
        wallet = self.wallets[order.account]
        if order.locked:
            asset = order.instrument.quote if order.side is Side.BUY else order.instrument.base
            wallet.unlock(asset, order.locked)
            order.locked = ZERO
        order.status = Status.CANCELED
        order.updated_ms = self.clock.now_ms()
        return order

    def set_leverage(
        self, key: ApiKey, instrument: Instrument, leverage: int, *, reject_unchanged: bool = True
    ) -> None:
        """Set the leverage; Bybit refuses an unchanged one (110043), OKX accepts it."""
        wallet = self.wallet(key)
        wallet.leverage_requests[instrument.id] = wallet.leverage_requests.get(instrument.id, 0) + 1
        if not 1 <= leverage <= instrument.max_leverage:
            raise Rejected(
                Reason.LEVERAGE_INVALID, f"{leverage} not in 1..{instrument.max_leverage}"
            )
        if reject_unchanged and wallet.leverage_of(instrument) == leverage:
            raise Rejected(Reason.LEVERAGE_NOT_MODIFIED, str(leverage))
        wallet.leverage[instrument.id] = leverage

    def leverage_state(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per account and perpetual instrument id: its leverage and the set-leverage
        requests it was sent (only instruments that were asked about)."""
        return {
            account: {
                instrument_id: {
                    "leverage": wallet.leverage.get(instrument_id, wallet.DEFAULT_LEVERAGE),
                    "requests": count,
                }
                for instrument_id, count in sorted(wallet.leverage_requests.items())
            }
            for account, wallet in sorted(self.wallets.items())
            if wallet.leverage_requests
        }

    def sweep(self) -> None:
        """Fill every resting limit order the feed now crosses, at the order's price; then
        close at market every position whose stop loss or take profit the price reached."""
        self._fill_resting()
        self._trigger_stops()

    def _trigger_stops(self) -> None:
        for wallet in self.wallets.values():
            for position in list(wallet.positions.values()):
                if not position.qty or (position.sl is None and position.tp is None):
                    continue
                instrument = position.instrument
                quote = self.feed.quote(instrument)
                which = reached(position.qty > 0, position.sl, position.tp, quote.mid)
                if which is not None:
                    self._close_by_stop(wallet, instrument, position.qty, which)

    def _close_by_stop(
        self, wallet: Wallet, instrument: Instrument, qty: Decimal, which: str
    ) -> None:
        """The venue's own reduce-only market order, closing the whole position."""
        now = self.clock.now_ms()
        self._sequence += 1
        side = Side.SELL if qty > 0 else Side.BUY
        order = Order(
            id=self._sequence,
            venue_id=self.order_ids[instrument.exchange](self._sequence, instrument.kind),
            account=wallet.account,
            api_key="",
            instrument=instrument,
            side=side,
            type=OrderType.MARKET,
            qty=abs(qty),
            price=None,
            client_id="",
            reduce_only=True,
            time_in_force="IOC",
            created_ms=now,
            updated_ms=now,
            trigger=which,
        )
        quote = self.feed.quote(instrument)
        self._fill(wallet, order, quote.bid if side is Side.SELL else quote.ask, maker=False)
        self.orders.setdefault(wallet.account, []).append(order)

    def _fill_resting(self) -> None:
        self.resting = [order for order in self.resting if order.status.is_open]
        for order in list(self.resting):
            if order.price is None:
                continue
            quote = self.feed.quote(order.instrument)
            if (order.side is Side.BUY and quote.ask <= order.price) or (
                order.side is Side.SELL and quote.bid >= order.price
            ):
                wallet = self.wallets[order.account]
                if order.reduce_only and not self._reducible(wallet, order):
                    self.cancel(order)
                    continue
                self._fill(wallet, order, order.price, maker=True)

    @staticmethod
    def _reducible(wallet: Wallet, order: Order) -> bool:
        position = wallet.position(order.instrument).qty
        if (position > 0 and order.side is Side.SELL) or (position < 0 and order.side is Side.BUY):
            order.qty = order.filled + min(order.remaining, abs(position))
            return True
        return False
