"""Symbols and quotes: symbols_*, symbol_info*, symbol_select, order_calc_*."""

from fnmatch import fnmatchcase

from ._constants import (
    ORDER_TYPE_BUY,
    ORDER_TYPE_SELL,
    SYMBOL_CHART_MODE_BID,
    SYMBOL_ORDERS_GTC,
    SYMBOL_SWAP_MODE_POINTS,
    SYMBOL_TRADE_EXECUTION_MARKET,
    SYMBOL_TRADE_MODE_FULL,
    TICK_FLAG_ASK,
    TICK_FLAG_BID,
)
from ._market import SYMBOL_FILLING_MODE, SymbolSpec
from ._state import ERR_INVALID_PARAMS, ERR_NO_IPC, ERR_NOT_FOUND, ERR_SUCCESS, Terminal, terminal
from ._types import SymbolInfo, Tick


def match_group(name: str, group: str) -> bool:
    """MT5 group filter: comma-separated masks with ``*``, ``!`` excludes, applied in order."""
    selected = False
    for raw in group.split(","):
        mask = raw.strip()
        if not mask:
            continue
        if mask.startswith("!"):
            if fnmatchcase(name, mask[1:]):
                selected = False
        elif fnmatchcase(name, mask):
            selected = True
    return selected


def _spec(t: Terminal, symbol: object) -> SymbolSpec | None:
    if not t.ipc:
        t.last_error = ERR_NO_IPC
        return None
    spec = t.market.spec(symbol) if isinstance(symbol, str) else None
    if spec is None:
        t.last_error = ERR_NOT_FOUND
    return spec


def _info(t: Terminal, spec: SymbolSpec) -> SymbolInfo:
    now_ms = t.clock.now_ms()
    bid, ask = t.market.quote(spec.name)
    tick_value = spec.contract_size * spec.point
    selected = spec.name in t.selected
    return SymbolInfo(
        custom=False,
        chart_mode=SYMBOL_CHART_MODE_BID,
        select=selected,
        visible=selected,
        session_deals=0,
        session_buy_orders=0,
        session_sell_orders=0,
        volume=0,
        volumehigh=0,
        volumelow=0,
        time=now_ms // 1000,
        digits=spec.digits,
        spread=round((ask - bid) / spec.point),
        spread_float=False,
        ticks_bookdepth=0,
        trade_calc_mode=spec.calc_mode,
        trade_mode=SYMBOL_TRADE_MODE_FULL,
        start_time=0,
        expiration_time=0,
        trade_stops_level=0,
        trade_freeze_level=0,
        trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET,
        swap_mode=SYMBOL_SWAP_MODE_POINTS,
        swap_rollover3days=3,
        margin_hedged_use_leg=False,
        expiration_mode=15,
        filling_mode=SYMBOL_FILLING_MODE,
        order_mode=127,
        order_gtc_mode=SYMBOL_ORDERS_GTC,
        option_mode=0,
        option_right=0,
        bid=bid,
        bidhigh=bid,
        bidlow=bid,
        ask=ask,
        askhigh=ask,
        asklow=ask,
        last=0.0,
        lasthigh=0.0,
        lastlow=0.0,
        volume_real=0.0,
        volumehigh_real=0.0,
        volumelow_real=0.0,
        option_strike=0.0,
        point=spec.point,
        trade_tick_value=tick_value,
        trade_tick_value_profit=tick_value,
        trade_tick_value_loss=tick_value,
        trade_tick_size=spec.point,
        trade_contract_size=spec.contract_size,
        trade_accrued_interest=0.0,
        trade_face_value=0.0,
        trade_liquidity_rate=0.0,
        volume_min=spec.volume_min,
        volume_max=spec.volume_max,
        volume_step=spec.volume_step,
        volume_limit=0.0,
        swap_long=-1.0,
        swap_short=-1.0,
        margin_initial=0.0,
        margin_maintenance=0.0,
        session_volume=0.0,
        session_turnover=0.0,
        session_interest=0.0,
        session_buy_orders_volume=0.0,
        session_sell_orders_volume=0.0,
        session_open=bid,
        session_close=bid,
        session_aw=0.0,
        session_price_settlement=0.0,
        session_price_limit_min=0.0,
        session_price_limit_max=0.0,
        margin_hedged=spec.contract_size / 2,
        price_change=0.0,
        price_volatility=0.0,
        price_theoretical=0.0,
        price_greeks_delta=0.0,
        price_greeks_theta=0.0,
        price_greeks_gamma=0.0,
        price_greeks_vega=0.0,
        price_greeks_rho=0.0,
        price_greeks_omega=0.0,
        price_sensitivity=0.0,
        basis="",
        category="",
        currency_base=spec.currency_base,
        currency_profit=spec.currency_profit,
        currency_margin=spec.currency_margin,
        bank="",
        description=spec.description,
        exchange="",
        formula="",
        isin="",
        name=spec.name,
        page="",
        path=spec.path,
    )


def symbols_total() -> int:
    t = terminal()
    with t.lock:
        return len(t.market.symbols) if t.ipc else 0


def symbols_get(group: str | None = None) -> tuple[SymbolInfo, ...] | None:
    t = terminal()
    with t.lock:
        if not t.ipc:
            t.last_error = ERR_NO_IPC
            return None
        t.last_error = ERR_SUCCESS
        specs = t.market.symbols.values()
        return tuple(_info(t, s) for s in specs if group is None or match_group(s.name, group))


def symbol_info(symbol: str) -> SymbolInfo | None:
    t = terminal()
    with t.lock:
        spec = _spec(t, symbol)
        if spec is None:
            return None
        t.last_error = ERR_SUCCESS
        return _info(t, spec)


def symbol_info_tick(symbol: str) -> Tick | None:
    t = terminal()
    with t.lock:
        spec = _spec(t, symbol)
        if spec is None:
            return None
        now_ms = t.clock.now_ms()
        bid, ask = t.market.quote(spec.name, now_ms)
        t.last_error = ERR_SUCCESS
        return Tick(
            time=now_ms // 1000,
            bid=bid,
            ask=ask,
            last=0.0,
            volume=0,
            time_msc=now_ms,
            flags=TICK_FLAG_BID | TICK_FLAG_ASK,
            volume_real=0.0,
        )


def symbol_select(symbol: str, enable: bool = True) -> bool:
    t = terminal()
    with t.lock:
        spec = _spec(t, symbol)
        if spec is None:
            return False
        if enable:
            t.selected.add(spec.name)
        else:
            t.selected.discard(spec.name)
        t.last_error = ERR_SUCCESS
        return True


def order_calc_margin(action: int, symbol: str, volume: float, price: float) -> float | None:
    t = terminal()
    with t.lock:
        book = t.current_book()
        spec = _spec(t, symbol) if book is not None else None
        if book is None or spec is None:
            return None
        if action not in (ORDER_TYPE_BUY, ORDER_TYPE_SELL):
            t.last_error = ERR_INVALID_PARAMS
            return None
        t.last_error = ERR_SUCCESS
        leverage, ccy = book.account.leverage, book.account.currency
        return round(t.market.margin(spec.name, volume, price, leverage, ccy), 2)


def order_calc_profit(
    action: int, symbol: str, volume: float, price_open: float, price_close: float
) -> float | None:
    t = terminal()
    with t.lock:
        book = t.current_book()
        spec = _spec(t, symbol) if book is not None else None
        if book is None or spec is None:
            return None
        if action not in (ORDER_TYPE_BUY, ORDER_TYPE_SELL):
            t.last_error = ERR_INVALID_PARAMS
            return None
        t.last_error = ERR_SUCCESS
        is_buy = action == ORDER_TYPE_BUY
        value = t.market.profit(
            spec.name, is_buy, volume, price_open, price_close, book.account.currency
        )
        return round(value, 2)
