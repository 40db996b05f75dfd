"""The simulated MT5 terminal, driven over TCP by the real mt5linux client (no mocks)."""

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from mt5linux import MetaTrader5

from switchyard.sim.mt5 import options as sim_options
from switchyard.sim.mt5.MetaTrader5 import _config
from switchyard.sim.mt5.server import DEMO_SERVER as SERVER
from switchyard.sim.mt5.server import SimAccount

Accounts = Any  # conftest.Accounts: .alice, .bob, .small, .read_only
Connect = Callable[..., MetaTrader5]
LogIn = Callable[[MetaTrader5, SimAccount], None]
CLIENT = MetaTrader5  # the class: its constants and docstrings are the reference


def deal(
    mt5: MetaTrader5, order_type: int, symbol: str = "EURUSD", volume: float = 0.1, **fields: Any
) -> Any:
    request = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": volume,
        "type": order_type,
        "deviation": 10,
        "magic": 4242,
        "type_filling": mt5.ORDER_FILLING_IOC,
        **fields,
    }
    return mt5.order_send(request)


def pending(mt5: MetaTrader5, order_type: int, price: float, **fields: Any) -> Any:
    request = {
        "action": mt5.TRADE_ACTION_PENDING,
        "symbol": "EURUSD",
        "volume": 0.2,
        "type": order_type,
        "price": price,
        "magic": 99,
        "type_time": mt5.ORDER_TIME_GTC,
        **fields,
    }
    return mt5.order_send(request)


def documented_fields(method: str, marker: str, prefix: str = "") -> list[str]:
    """Field names listed by an example output in the real docs shipped with mt5linux."""
    doc = getattr(CLIENT, method).__doc__
    fields: list[str] = []
    for line in doc[doc.rindex(marker) :].splitlines():
        match = re.match(rf"\s+{re.escape(prefix)}(\w+)=", line)
        if match:
            fields.append(match.group(1))
        elif fields:
            break
    return fields


def state(control: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(control.state_json())
    return result


# -- the API surface -------------------------------------------------------------------------


def test_every_constant_has_the_value_the_mt5linux_client_declares(mt5: MetaTrader5) -> None:
    names = tuple(name for name in vars(CLIENT) if name.isupper())
    remote = dict(mt5.eval(f"tuple((n, getattr(mt5, n, None)) for n in {names!r})"))
    assert remote == {name: getattr(CLIENT, name) for name in names}
    assert mt5.RES_E_AUTH_FAILED == -6
    assert mt5.TRADE_RETCODE_HEDGE_PROHIBITED == 10046


def test_account_terminal_and_symbol_info_list_the_documented_fields_in_order(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.alice)
    account = documented_fields("account_info", "Show account_info()._asdict():")
    assert len(account) == 28
    assert list(mt5.account_info()._fields) == account
    terminal = documented_fields("terminal_info", "Show terminal_info()._asdict():")
    assert list(mt5.terminal_info()._fields) == terminal
    symbol = documented_fields("symbol_info", "Show symbol_info()._asdict():")
    assert len(symbol) == 96
    assert list(mt5.symbol_info("EURUSD")._fields) == symbol
    assert list(mt5.symbol_info_tick("EURUSD")._fields) == [
        "time",
        "bid",
        "ask",
        "last",
        "volume",
        "time_msc",
        "flags",
        "volume_real",
    ]


def test_trade_results_and_records_list_the_real_fields_in_order(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.alice)
    result = deal(mt5, mt5.ORDER_TYPE_BUY)
    assert list(result._fields) == documented_fields("order_send", "closed, OrderSendResult(")
    request = documented_fields("order_send", "closed, OrderSendResult(", "traderequest: ")
    assert len(request) == 17
    assert list(result.request._fields) == request
    check = mt5.order_check(
        {
            "action": mt5.TRADE_ACTION_DEAL,
            "symbol": "EURUSD",
            "volume": 0.1,
            "type": mt5.ORDER_TYPE_BUY,
        }
    )
    assert list(check._fields) == documented_fields("order_check", "\n   retcode=0")
    assert len(check._fields) == 9
    assert list(mt5.positions_get()[0]._fields) == [
        "ticket",
        "time",
        "time_msc",
        "time_update",
        "time_update_msc",
        "type",
        "magic",
        "identifier",
        "reason",
        "volume",
        "price_open",
        "sl",
        "tp",
        "price_current",
        "swap",
        "profit",
        "symbol",
        "comment",
        "external_id",
    ]
    assert list(mt5.history_orders_get(ticket=result.order)[0]._fields) == [
        "ticket",
        "time_setup",
        "time_setup_msc",
        "time_done",
        "time_done_msc",
        "time_expiration",
        "type",
        "type_time",
        "type_filling",
        "state",
        "magic",
        "position_id",
        "position_by_id",
        "reason",
        "volume_initial",
        "volume_current",
        "price_open",
        "sl",
        "tp",
        "price_current",
        "price_stoplimit",
        "symbol",
        "comment",
        "external_id",
    ]
    assert list(mt5.history_deals_get(ticket=result.order)[0]._fields) == [
        "ticket",
        "order",
        "time",
        "time_msc",
        "type",
        "entry",
        "magic",
        "position_id",
        "reason",
        "volume",
        "price",
        "commission",
        "swap",
        "profit",
        "fee",
        "symbol",
        "comment",
        "external_id",
    ]


def test_symbol_info_carries_the_contract_data_a_worker_sizes_orders_with(
    mt5: MetaTrader5,
) -> None:
    info = mt5.symbol_info("EURUSD")
    tick = mt5.symbol_info_tick("EURUSD")
    assert (info.volume_min, info.volume_max, info.volume_step) == (0.01, 100.0, 0.01)
    assert (info.trade_contract_size, info.digits, info.point) == (100_000.0, 5, 0.00001)
    assert info.trade_mode == mt5.SYMBOL_TRADE_MODE_FULL
    assert (info.bid, info.ask) == (tick.bid, tick.ask)
    assert round(tick.ask - tick.bid, 5) == 0.0001
    assert mt5.symbol_info("NOPE") is None
    assert mt5.last_error()[0] == mt5.RES_E_NOT_FOUND
    assert mt5.symbol_select("XAUUSD", True) is True
    assert {s.name for s in mt5.symbols_get(group="*USD*,!BTC*")} == {
        "EURUSD",
        "GBPUSD",
        "USDJPY",
        "XAUUSD",
    }


# -- logging in ------------------------------------------------------------------------------


def test_login_with_the_right_password_succeeds_and_shows_the_account(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.bob)
    assert mt5.last_error() == (1, "Success")
    info = mt5.account_info()
    assert (info.login, info.server, info.currency, info.leverage) == (7002, SERVER, "EUR", 30)
    assert (info.balance, info.equity, info.margin, info.margin_free) == (
        50_000.0,
        50_000.0,
        0.0,
        50_000.0,
    )
    assert info.margin_mode == mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
    assert mt5.terminal_info().connected is True


def test_login_with_a_wrong_password_fails_with_authorization_failed(
    mt5: MetaTrader5, accounts: Accounts
) -> None:
    assert mt5.login(accounts.alice["login"], password="nope", server=SERVER) is False
    assert mt5.last_error() == (-6, "Terminal: Authorization failed")
    assert mt5.account_info() is None


def test_login_to_an_unknown_server_fails_with_authorization_failed(
    mt5: MetaTrader5, accounts: Accounts
) -> None:
    alice = accounts.alice
    assert mt5.login(alice["login"], password=alice["password"], server="Other-Live") is False
    assert mt5.last_error() == (mt5.RES_E_AUTH_FAILED, "Terminal: Authorization failed")


def test_initialize_can_log_in_and_a_remembered_password_may_be_omitted(
    connect: Connect, accounts: Accounts
) -> None:
    mt5 = connect()
    alice = accounts.alice
    assert mt5.initialize(login=alice["login"], password=alice["password"], server=SERVER)
    assert mt5.login(accounts.bob["login"]) is False  # never logged in here: no saved password
    assert mt5.login(alice["login"]) is True
    assert mt5.account_info().login == alice["login"]


def test_calls_before_initialize_fail_with_no_ipc_connection(
    connect: Connect, accounts: Accounts
) -> None:
    mt5 = connect()
    assert mt5.login(accounts.alice["login"], password="alice-pw", server=SERVER) is False
    assert mt5.last_error() == (-10004, "No IPC connection")
    assert mt5.account_info() is None
    assert mt5.positions_get() is None


def test_login_takes_the_configured_delay_and_fails_past_its_timeout(
    start_sim: Any, connect: Connect, log_in: LogIn, accounts: Accounts
) -> None:
    mt5 = connect(start_sim(login_delay_s=0.3))
    assert mt5.initialize()
    began = time.monotonic()
    log_in(mt5, accounts.alice)
    assert 0.3 <= time.monotonic() - began < 3
    bob = accounts.bob
    assert mt5.login(bob["login"], password=bob["password"], server=SERVER, timeout=100) is False
    assert mt5.last_error() == (-10005, "IPC timeout")
    assert mt5.account_info() is None


# -- market orders, positions, history, journal ----------------------------------------------


def test_market_buy_opens_a_position_records_the_deal_and_journals_the_login(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, sim: Any
) -> None:
    log_in(mt5, accounts.alice)
    tick = mt5.symbol_info_tick("EURUSD")
    result = deal(
        mt5,
        mt5.ORDER_TYPE_BUY,
        sl=round(tick.bid - 0.005, 5),
        tp=round(tick.bid + 0.005, 5),
        comment="open",
    )
    assert (result.retcode, result.comment) == (mt5.TRADE_RETCODE_DONE, "Request executed")
    assert (result.price, result.bid, result.ask, result.volume) == (
        tick.ask,
        tick.bid,
        tick.ask,
        0.1,
    )
    assert result.request.magic == 4242
    (position,) = mt5.positions_get()
    assert (position.ticket, position.identifier, position.type) == (
        result.order,
        result.order,
        mt5.POSITION_TYPE_BUY,
    )
    assert (position.price_open, position.price_current, position.magic) == (
        tick.ask,
        tick.bid,
        4242,
    )
    assert position.profit == round((tick.bid - tick.ask) * 0.1 * 100_000, 2)
    (order,) = mt5.history_orders_get(ticket=result.order)
    assert (order.state, order.position_id) == (mt5.ORDER_STATE_FILLED, result.order)
    (entry,) = mt5.history_deals_get(position=result.order)
    assert (entry.ticket, entry.entry, entry.type, entry.magic) == (
        result.deal,
        mt5.DEAL_ENTRY_IN,
        mt5.DEAL_TYPE_BUY,
        4242,
    )
    assert mt5.account_info().margin == round(0.1 * 100_000 * (tick.bid + tick.ask) / 2 / 100, 2)
    (line,) = sim.journal()
    assert {
        k: line[k]
        for k in (
            "login",
            "server",
            "action",
            "symbol",
            "order",
            "deal",
            "position",
            "magic",
            "comment",
            "volume",
            "price",
        )
    } == {
        "login": 7001,
        "server": SERVER,
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": "EURUSD",
        "order": result.order,
        "deal": result.deal,
        "position": result.order,
        "magic": 4242,
        "comment": "open",
        "volume": 0.1,
        "price": tick.ask,
    }


def test_partial_then_full_close_realises_profit_into_the_balance(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, control: Any, sim: Any
) -> None:
    log_in(mt5, accounts.alice)
    opened = deal(mt5, mt5.ORDER_TYPE_BUY, volume=0.3)
    control.pin_price("EURUSD", round(opened.price + 0.001, 5))  # bid 10 pips above entry
    partial = deal(mt5, mt5.ORDER_TYPE_SELL, volume=0.1, position=opened.order)
    assert partial.retcode == mt5.TRADE_RETCODE_DONE
    (position,) = mt5.positions_get(ticket=opened.order)
    assert position.volume == 0.2
    assert mt5.account_info().balance == 10_010.0
    assert deal(mt5, mt5.ORDER_TYPE_SELL, volume=0.3, position=opened.order).retcode == (
        mt5.TRADE_RETCODE_INVALID_CLOSE_VOLUME
    )
    assert deal(mt5, mt5.ORDER_TYPE_SELL, volume=0.2, position=opened.order).retcode == (
        mt5.TRADE_RETCODE_DONE
    )
    assert mt5.positions_get() == ()
    assert mt5.account_info().balance == 10_030.0
    deals = mt5.history_deals_get(position=opened.order)
    assert [(d.entry, d.volume, d.profit) for d in deals] == [
        (mt5.DEAL_ENTRY_IN, 0.3, 0.0),
        (mt5.DEAL_ENTRY_OUT, 0.1, 10.0),
        (mt5.DEAL_ENTRY_OUT, 0.2, 20.0),
    ]
    assert [line["position"] for line in sim.journal()] == [opened.order] * 3


def test_closing_a_position_that_is_not_open_reports_position_closed(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.alice)
    result = deal(mt5, mt5.ORDER_TYPE_SELL, position=123456)
    assert (result.retcode, result.order, result.deal) == (mt5.TRADE_RETCODE_POSITION_CLOSED, 0, 0)
    sltp = mt5.order_send({"action": mt5.TRADE_ACTION_SLTP, "position": 123456, "sl": 1.0})
    assert sltp.retcode == mt5.TRADE_RETCODE_POSITION_CLOSED


def test_sltp_moves_the_stops_of_an_open_position_and_checks_their_side(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.alice)
    opened = deal(mt5, mt5.ORDER_TYPE_SELL)
    ask = mt5.symbol_info_tick("EURUSD").ask
    sl, tp = round(ask + 0.002, 5), round(ask - 0.002, 5)
    request = {
        "action": mt5.TRADE_ACTION_SLTP,
        "symbol": "EURUSD",
        "position": opened.order,
        "sl": sl,
        "tp": tp,
    }
    assert mt5.order_send(request).retcode == mt5.TRADE_RETCODE_DONE
    (position,) = mt5.positions_get()
    assert (position.sl, position.tp) == (sl, tp)
    assert mt5.order_send(request).retcode == mt5.TRADE_RETCODE_NO_CHANGES
    wrong = {**request, "sl": round(ask - 0.001, 5)}
    assert mt5.order_send(wrong).retcode == mt5.TRADE_RETCODE_INVALID_STOPS


def test_pending_limit_and_stop_orders_are_placed_modified_and_removed(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, sim: Any
) -> None:
    log_in(mt5, accounts.alice)
    tick = mt5.symbol_info_tick("EURUSD")
    limit = pending(
        mt5, mt5.ORDER_TYPE_BUY_LIMIT, round(tick.ask - 0.002, 5), sl=round(tick.ask - 0.004, 5)
    )
    stop = pending(mt5, mt5.ORDER_TYPE_SELL_STOP, round(tick.bid - 0.003, 5))
    assert (limit.retcode, stop.retcode) == (mt5.TRADE_RETCODE_DONE,) * 2
    assert {o.ticket for o in mt5.orders_get()} == {limit.order, stop.order}
    assert mt5.orders_total() == 2
    assert mt5.positions_get() == ()
    new_price = round(tick.ask - 0.001, 5)
    modified = mt5.order_send(
        {
            "action": mt5.TRADE_ACTION_MODIFY,
            "order": limit.order,
            "price": new_price,
            "sl": 0.0,
            "tp": round(tick.ask, 5),
        }
    )
    assert modified.retcode == mt5.TRADE_RETCODE_DONE
    (order,) = mt5.orders_get(ticket=limit.order)
    assert (order.price_open, order.sl, order.state) == (new_price, 0.0, mt5.ORDER_STATE_PLACED)
    removed = mt5.order_send({"action": mt5.TRADE_ACTION_REMOVE, "order": stop.order})
    assert (removed.retcode, removed.order) == (mt5.TRADE_RETCODE_DONE, stop.order)
    assert [o.ticket for o in mt5.orders_get()] == [limit.order]
    (cancelled,) = mt5.history_orders_get(ticket=stop.order)
    assert cancelled.state == mt5.ORDER_STATE_CANCELED
    assert [line["action"] for line in sim.journal()] == [
        mt5.TRADE_ACTION_PENDING,
        mt5.TRADE_ACTION_PENDING,
        mt5.TRADE_ACTION_MODIFY,
        mt5.TRADE_ACTION_REMOVE,
    ]


@pytest.mark.parametrize(
    ("order_type", "offset"),
    [
        ("ORDER_TYPE_BUY_LIMIT", +0.002),
        ("ORDER_TYPE_SELL_LIMIT", -0.002),
        ("ORDER_TYPE_BUY_STOP", -0.002),
        ("ORDER_TYPE_SELL_STOP", +0.002),
    ],
)
def test_pending_order_on_the_wrong_side_of_the_market_is_an_invalid_price(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, order_type: str, offset: float
) -> None:
    log_in(mt5, accounts.alice)
    tick = mt5.symbol_info_tick("EURUSD")
    result = pending(mt5, getattr(mt5, order_type), round((tick.bid + tick.ask) / 2 + offset, 5))
    assert (result.retcode, result.comment) == (mt5.TRADE_RETCODE_INVALID_PRICE, "Invalid price")
    assert mt5.orders_get() == ()


# -- rejections with real retcodes -----------------------------------------------------------


@pytest.mark.parametrize("volume", [0.001, 150.0, 0.015, 0.0])
def test_volume_below_min_above_max_or_off_step_is_invalid_volume(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, volume: float, sim: Any
) -> None:
    log_in(mt5, accounts.alice)
    result = deal(mt5, mt5.ORDER_TYPE_BUY, volume=volume)
    assert (result.retcode, result.comment) == (mt5.TRADE_RETCODE_INVALID_VOLUME, "Invalid volume")
    assert (result.order, result.deal, result.request.volume) == (0, 0, volume)
    assert mt5.positions_get() == ()
    assert sim.journal() == []


def test_order_needing_more_margin_than_is_free_is_rejected_for_no_money(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.small)  # 100 USD at 1:10; 0.01 lot EURUSD needs about 108 USD
    assert (
        mt5.order_calc_margin(
            mt5.ORDER_TYPE_BUY, "EURUSD", 0.01, mt5.symbol_info_tick("EURUSD").ask
        )
        > 100
    )
    result = deal(mt5, mt5.ORDER_TYPE_BUY, volume=0.01)
    assert (result.retcode, result.comment) == (mt5.TRADE_RETCODE_NO_MONEY, "No money")
    check = mt5.order_check(result.request._asdict())
    assert (check.retcode, check.comment) == (mt5.TRADE_RETCODE_NO_MONEY, "No money")
    assert mt5.positions_total() == 0


def test_orders_on_a_closed_market_are_rejected_with_market_closed(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, control: Any
) -> None:
    log_in(mt5, accounts.alice)
    assert deal(mt5, mt5.ORDER_TYPE_BUY, symbol="DE40", volume=1.0).retcode == (
        mt5.TRADE_RETCODE_MARKET_CLOSED
    )
    control.set_market_open(False, "EURUSD")
    assert deal(mt5, mt5.ORDER_TYPE_BUY).retcode == mt5.TRADE_RETCODE_MARKET_CLOSED
    assert deal(mt5, mt5.ORDER_TYPE_BUY, symbol="GBPUSD").retcode == mt5.TRADE_RETCODE_DONE
    control.set_market_open(False)
    assert deal(mt5, mt5.ORDER_TYPE_SELL, symbol="GBPUSD").retcode == (
        mt5.TRADE_RETCODE_MARKET_CLOSED
    )
    control.set_market_open(True)
    control.set_market_open(True, "EURUSD")
    assert deal(mt5, mt5.ORDER_TYPE_BUY).retcode == mt5.TRADE_RETCODE_DONE


@pytest.mark.parametrize(
    ("order_type", "sl_offset", "tp_offset"),
    [
        ("ORDER_TYPE_BUY", +0.001, 0.0),
        ("ORDER_TYPE_BUY", 0.0, -0.001),
        ("ORDER_TYPE_SELL", -0.001, 0.0),
        ("ORDER_TYPE_SELL", 0.0, +0.001),
    ],
)
def test_stops_on_the_wrong_side_of_the_price_are_invalid_stops(
    mt5: MetaTrader5,
    log_in: LogIn,
    accounts: Accounts,
    order_type: str,
    sl_offset: float,
    tp_offset: float,
) -> None:
    log_in(mt5, accounts.alice)
    bid = mt5.symbol_info_tick("EURUSD").bid
    sl = round(bid + sl_offset, 5) if sl_offset else 0.0
    tp = round(bid + tp_offset, 5) if tp_offset else 0.0
    result = deal(mt5, getattr(mt5, order_type), sl=sl, tp=tp)
    assert (result.retcode, result.comment) == (mt5.TRADE_RETCODE_INVALID_STOPS, "Invalid stops")


def test_an_account_without_trading_rights_gets_trade_disabled(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.read_only)
    assert mt5.account_info().trade_allowed is False
    assert deal(mt5, mt5.ORDER_TYPE_BUY).retcode == mt5.TRADE_RETCODE_TRADE_DISABLED


def test_a_malformed_request_returns_none_with_an_invalid_argument_error(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.alice)
    assert (
        mt5.order_send(
            {"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": "0.1", "type": 0}
        )
        is None
    )
    assert mt5.last_error() == (-2, 'Invalid "volume" argument')
    assert mt5.order_send({"action": 1, "colour": "red"}) is None
    assert mt5.last_error() == (-2, 'Invalid "colour" argument')


def test_order_send_while_no_account_is_logged_in_returns_none_with_last_error(
    mt5: MetaTrader5,
) -> None:
    assert deal(mt5, mt5.ORDER_TYPE_BUY) is None
    assert mt5.last_error() == (-6, "Terminal: Authorization failed")


def test_order_check_reports_the_margin_without_executing(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.alice)
    request = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": "EURUSD",
        "volume": 1.0,
        "type": mt5.ORDER_TYPE_BUY,
    }
    check = mt5.order_check(request)
    assert (check.retcode, check.comment, check.balance) == (0, "Done", 10_000.0)
    expected = mt5.order_calc_margin(
        mt5.ORDER_TYPE_BUY, "EURUSD", 1.0, mt5.symbol_info_tick("EURUSD").ask
    )
    assert abs(check.margin - expected) < 0.01
    assert mt5.positions_total() == 0


def test_a_long_comment_is_cut_to_31_characters(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.alice)
    result = deal(mt5, mt5.ORDER_TYPE_BUY, comment="switchyard:job:0123456789abcdef0123")
    assert result.request.comment == "switchyard:job:0123456789abcdef"
    assert mt5.positions_get()[0].comment == "switchyard:job:0123456789abcdef"


# -- many users, one terminal ----------------------------------------------------------------


def test_switching_logins_keeps_each_accounts_positions_and_history_apart(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, sim: Any
) -> None:
    log_in(mt5, accounts.alice)
    alice_buy = deal(mt5, mt5.ORDER_TYPE_BUY, comment="alice")
    log_in(mt5, accounts.bob)
    assert mt5.positions_get() == ()
    bob_sell = deal(mt5, mt5.ORDER_TYPE_SELL, symbol="GBPUSD", comment="bob")
    assert [p.ticket for p in mt5.positions_get()] == [bob_sell.order]
    assert mt5.history_deals_get(position=alice_buy.order) == ()
    log_in(mt5, accounts.alice)
    assert [p.ticket for p in mt5.positions_get()] == [alice_buy.order]
    assert mt5.account_info().login == accounts.alice["login"]
    assert [(line["login"], line["order"]) for line in sim.journal()] == [
        (7001, alice_buy.order),
        (7002, bob_sell.order),
    ]


def test_every_client_of_the_terminal_sees_the_same_logged_in_account(
    connect: Connect, log_in: LogIn, accounts: Accounts
) -> None:
    first, second = connect(), connect()
    assert first.initialize()
    assert second.initialize()
    log_in(first, accounts.alice)
    assert second.account_info().login == accounts.alice["login"]
    log_in(second, accounts.bob)
    assert first.account_info().login == accounts.bob["login"]


def test_orders_and_positions_filter_by_symbol_group_and_ticket(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts
) -> None:
    log_in(mt5, accounts.bob)
    eur = deal(mt5, mt5.ORDER_TYPE_BUY, symbol="EURUSD")
    jpy = deal(mt5, mt5.ORDER_TYPE_BUY, symbol="USDJPY")
    gold = deal(mt5, mt5.ORDER_TYPE_SELL, symbol="XAUUSD", volume=0.01)
    assert [p.ticket for p in mt5.positions_get(symbol="USDJPY")] == [jpy.order]
    assert {p.ticket for p in mt5.positions_get(group="*USD*,!XAU*")} == {eur.order, jpy.order}
    assert [p.ticket for p in mt5.positions_get(ticket=gold.order)] == [gold.order]
    assert mt5.positions_total() == 3
    assert mt5.orders_get(symbol="EURUSD") == ()


def test_history_is_selected_by_date_range_ticket_position_and_group(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, control: Any, frozen_at_s: float
) -> None:
    log_in(mt5, accounts.alice)
    first = deal(mt5, mt5.ORDER_TYPE_BUY, symbol="EURUSD")
    control.advance_time(3600)
    second = deal(mt5, mt5.ORDER_TYPE_BUY, symbol="GBPUSD")
    start = dt.datetime.fromtimestamp(frozen_at_s, tz=dt.UTC)
    hour_later = start + dt.timedelta(hours=1)
    assert [d.order for d in mt5.history_deals_get(start, start)] == [first.order]
    assert [o.ticket for o in mt5.history_orders_get(hour_later, hour_later)] == [second.order]
    both = mt5.history_deals_get(start - dt.timedelta(days=2), hour_later)
    assert [d.type for d in both] == [mt5.DEAL_TYPE_BALANCE, mt5.DEAL_TYPE_BUY, mt5.DEAL_TYPE_BUY]
    assert mt5.history_deals_total(start, hour_later) == 2
    assert [d.order for d in mt5.history_deals_get(start, hour_later, group="*GBP*")] == [
        second.order
    ]
    assert [d.order for d in mt5.history_deals_get(ticket=second.order)] == [second.order]
    assert mt5.history_orders_get() is None
    assert mt5.last_error()[0] == mt5.RES_E_INVALID_PARAMS


# -- fault switches --------------------------------------------------------------------------


def test_fail_next_logins_fails_exactly_that_many_logins_even_with_good_credentials(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, control: Any
) -> None:
    control.set_faults(fail_next_logins=2)
    alice = accounts.alice
    for _ in range(2):
        assert mt5.login(alice["login"], password=alice["password"], server=SERVER) is False
        assert mt5.last_error() == (-6, "Terminal: Authorization failed")
    log_in(mt5, alice)


def test_fail_logins_rejects_only_the_listed_login_until_faults_are_cleared(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, control: Any
) -> None:
    control.set_faults(fail_logins=(accounts.bob["login"],))
    log_in(mt5, accounts.alice)
    bob = accounts.bob
    assert mt5.login(bob["login"], password=bob["password"], server=SERVER) is False
    assert mt5.account_info() is None  # the failed attempt dropped alice as well
    control.clear_faults()
    log_in(mt5, bob)


def test_a_hung_login_outlasts_the_client_timeout_and_completes_later(
    mt5: MetaTrader5, accounts: Accounts, control: Any
) -> None:
    control.set_faults(hang_next_login_s=30)
    mt5._MetaTrader5__conn._config["sync_request_timeout"] = 0.5  # type: ignore[attr-defined]
    alice = accounts.alice
    with pytest.raises(TimeoutError):
        mt5.login(alice["login"], password=alice["password"], server=SERVER)
    assert state(control)["login"] is None  # mid-switch: logged in to nothing
    control.clear_faults()  # the terminal wakes up and finishes the login
    deadline = time.monotonic() + 5
    while state(control)["login"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state(control)["login"] == alice["login"]


def test_a_lost_send_result_still_executes_the_trade_and_returns_none(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, control: Any, sim: Any
) -> None:
    log_in(mt5, accounts.alice)
    control.set_faults(lose_next_send_results=1)
    assert deal(mt5, mt5.ORDER_TYPE_BUY, comment="cid-1") is None
    assert mt5.last_error() == (mt5.RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
    (position,) = mt5.positions_get()
    assert position.comment == "cid-1"
    assert [line["order"] for line in sim.journal()] == [position.ticket]
    assert deal(mt5, mt5.ORDER_TYPE_BUY).retcode == mt5.TRADE_RETCODE_DONE


def test_a_dropped_connection_after_send_leaves_the_trade_executed(
    connect: Connect, log_in: LogIn, accounts: Accounts, control: Any, sim: Any
) -> None:
    mt5 = connect()
    assert mt5.initialize()
    log_in(mt5, accounts.alice)
    control.set_faults(drop_after_next_sends=1)
    with pytest.raises(EOFError):
        deal(mt5, mt5.ORDER_TYPE_BUY, comment="cid-2")
    again = connect()  # a new connection finds the terminal still on alice's account
    assert again.initialize()
    (position,) = again.positions_get()
    assert (position.comment, again.account_info().login) == ("cid-2", 7001)
    assert [line["login"] for line in sim.journal()] == [7001]


@pytest.mark.parametrize(("retcode", "comment"), [(10004, "Requote"), (10031, "No connection")])
def test_a_retcode_override_answers_the_next_send_without_executing(
    mt5: MetaTrader5,
    log_in: LogIn,
    accounts: Accounts,
    control: Any,
    sim: Any,
    retcode: int,
    comment: str,
) -> None:
    log_in(mt5, accounts.alice)
    control.set_faults(next_send_retcodes=(retcode,))
    refused = deal(mt5, mt5.ORDER_TYPE_BUY)
    assert (refused.retcode, refused.comment, refused.order, refused.deal) == (
        retcode,
        comment,
        0,
        0,
    )
    assert mt5.positions_get() == ()
    assert sim.journal() == []
    assert deal(mt5, mt5.ORDER_TYPE_BUY).retcode == mt5.TRADE_RETCODE_DONE


def test_disabled_autotrading_refuses_orders_with_client_disables_at(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, control: Any
) -> None:
    log_in(mt5, accounts.alice)
    control.set_faults(autotrading_disabled=True)
    assert mt5.terminal_info().trade_allowed is False
    assert deal(mt5, mt5.ORDER_TYPE_BUY).retcode == mt5.TRADE_RETCODE_CLIENT_DISABLES_AT


def test_an_unknown_fault_name_is_refused(control: Any) -> None:
    with pytest.raises(TypeError, match="unknown fault"):
        control.set_faults(make_it_rain=True)


def test_reset_returns_to_a_fresh_terminal_with_the_same_tickets(
    mt5: MetaTrader5, log_in: LogIn, accounts: Accounts, control: Any, sim: Any
) -> None:
    log_in(mt5, accounts.alice)
    control.set_faults(fail_next_logins=3)
    first = deal(mt5, mt5.ORDER_TYPE_BUY)
    control.reset()
    fresh = state(control)
    assert (fresh["login"], fresh["ipc"], fresh["faults"]["fail_next_logins"]) == (None, False, 0)
    assert all(a["positions"] == [] for a in fresh["accounts"])
    assert sim.journal() == []
    assert mt5.initialize()
    log_in(mt5, accounts.alice)
    assert deal(mt5, mt5.ORDER_TYPE_BUY).order == first.order


# -- determinism and configuration -----------------------------------------------------------


def test_prices_depend_only_on_seed_and_clock(
    start_sim: Any, connect: Connect, control: Any
) -> None:
    same, other = connect(start_sim()), connect(start_sim(seed=12345))
    session = connect()
    for client in (same, other, session):
        assert client.initialize()
    quotes = [
        (c.symbol_info_tick("EURUSD").bid, c.symbol_info_tick("XAUUSD").ask)
        for c in (session, same, other)
    ]
    assert quotes[0] == quotes[1]
    assert quotes[0] != quotes[2]
    control.advance_time(90)
    assert session.symbol_info_tick("EURUSD").bid != quotes[0][0]


def test_the_server_and_the_simulated_package_agree_on_environment_variables() -> None:
    names = {name: value for name, value in vars(sim_options).items() if name.startswith("ENV_")}
    assert names == {name: getattr(_config, name) for name in names}
    assert len(names) == 8
