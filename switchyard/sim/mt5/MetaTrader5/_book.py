"""One account's trading book: balance, open positions, pending orders and history."""

from dataclasses import dataclass, field

from ._config import AccountSpec
from ._constants import (
    ORDER_REASON_EXPERT,
    ORDER_STATE_PLACED,
    ORDER_TYPE_BUY,
    ORDER_TYPE_BUY_LIMIT,
    ORDER_TYPE_BUY_STOP,
    ORDER_TYPE_BUY_STOP_LIMIT,
    POSITION_REASON_EXPERT,
    POSITION_TYPE_BUY,
)
from ._market import Market
from ._trade_types import TradeDeal, TradeOrder, TradePosition

BUY_ORDER_TYPES = frozenset(
    {ORDER_TYPE_BUY, ORDER_TYPE_BUY_LIMIT, ORDER_TYPE_BUY_STOP, ORDER_TYPE_BUY_STOP_LIMIT}
)


@dataclass
class Position:
    ticket: int
    symbol: str
    type: int
    volume: float
    price_open: float
    sl: float
    tp: float
    magic: int
    comment: str
    time_ms: int
    time_update_ms: int
    #: Rollover interest booked on the position so far (``_sim.book_swap``); the closing
    #: deal carries it (its share, on a partial close) into the balance.
    swap: float = 0.0

    @property
    def is_buy(self) -> bool:
        return self.type == POSITION_TYPE_BUY


@dataclass
class PendingOrder:
    ticket: int
    symbol: str
    type: int
    volume: float
    price: float
    stoplimit: float
    sl: float
    tp: float
    magic: int
    comment: str
    type_time: int
    type_filling: int
    expiration: int
    time_ms: int

    @property
    def is_buy(self) -> bool:
        return self.type in BUY_ORDER_TYPES


@dataclass
class Book:
    account: AccountSpec
    balance: float
    positions: dict[int, Position] = field(default_factory=dict)
    orders: dict[int, PendingOrder] = field(default_factory=dict)
    history_orders: list[TradeOrder] = field(default_factory=list)
    history_deals: list[TradeDeal] = field(default_factory=list)

    # -- valuation -----------------------------------------------------------------
    def close_price(self, market: Market, pos: Position) -> float:
        """The price a position would close at now: bid for a buy, ask for a sell."""
        bid, ask = market.quote(pos.symbol)
        return bid if pos.is_buy else ask

    def position_profit(self, market: Market, pos: Position) -> float:
        price = self.close_price(market, pos)
        value = market.profit(
            pos.symbol, pos.is_buy, pos.volume, pos.price_open, price, self.account.currency
        )
        return round(value, 2)

    def floating_profit(self, market: Market) -> float:
        profits = [self.position_profit(market, p) + p.swap for p in self.positions.values()]
        return round(sum(profits, 0.0), 2)

    def used_margin(self, market: Market) -> float:
        total = 0.0
        for pos in self.positions.values():
            price = market.mid(pos.symbol)
            total += market.margin(
                pos.symbol, pos.volume, price, self.account.leverage, self.account.currency
            )
        return round(total, 2)

    def equity(self, market: Market) -> float:
        return round(self.balance + self.floating_profit(market), 2)

    def free_margin(self, market: Market) -> float:
        return round(self.equity(market) - self.used_margin(market), 2)

    # -- views -----------------------------------------------------------------------
    def position_view(self, market: Market, pos: Position) -> TradePosition:
        return TradePosition(
            ticket=pos.ticket,
            time=pos.time_ms // 1000,
            time_msc=pos.time_ms,
            time_update=pos.time_update_ms // 1000,
            time_update_msc=pos.time_update_ms,
            type=pos.type,
            magic=pos.magic,
            identifier=pos.ticket,
            reason=POSITION_REASON_EXPERT,
            volume=pos.volume,
            price_open=pos.price_open,
            sl=pos.sl,
            tp=pos.tp,
            price_current=self.close_price(market, pos),
            swap=pos.swap,
            profit=self.position_profit(market, pos),
            symbol=pos.symbol,
            comment=pos.comment,
            external_id="",
        )

    def order_view(self, market: Market, order: PendingOrder) -> TradeOrder:
        bid, ask = market.quote(order.symbol)
        return TradeOrder(
            ticket=order.ticket,
            time_setup=order.time_ms // 1000,
            time_setup_msc=order.time_ms,
            time_done=0,
            time_done_msc=0,
            time_expiration=order.expiration,
            type=order.type,
            type_time=order.type_time,
            type_filling=order.type_filling,
            state=ORDER_STATE_PLACED,
            magic=order.magic,
            position_id=0,
            position_by_id=0,
            reason=ORDER_REASON_EXPERT,
            volume_initial=order.volume,
            volume_current=order.volume,
            price_open=order.price,
            sl=order.sl,
            tp=order.tp,
            price_current=ask if order.is_buy else bid,
            price_stoplimit=order.stoplimit,
            symbol=order.symbol,
            comment=order.comment,
            external_id="",
        )
