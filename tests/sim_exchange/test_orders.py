"""Spot orders through real ccxt: market and limit, found again by client order id, cancel,
open orders, my trades, and the venues' own refusals."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest

from tests.sim_exchange.helpers import (
    KEYS,
    SPOT,
    by_client_id,
    client,
    lookup_by_client_id,
    raises_exactly,
    run,
    using,
)

VENUES = ["binance", "bybit", "okx"]


@pytest.mark.parametrize("name", VENUES)
def test_a_market_order_fills_at_once_and_is_found_again_by_client_id(sim, name, new_client_id):
    cid = new_client_id()

    async def scenario(exchange):
        placed = await exchange.create_order(
            SPOT, "market", "buy", 0.01, None, {"clientOrderId": cid}
        )
        found = await lookup_by_client_id(exchange, SPOT, cid)
        balance = await exchange.fetch_balance()
        trades = await exchange.fetch_my_trades(SPOT)
        return placed, found, balance, trades

    placed, found, balance, trades = run(using(client(sim, name), scenario))
    assert placed["clientOrderId"] == cid
    assert found["id"] == placed["id"]
    assert found["clientOrderId"] == cid
    assert found["status"] == "closed"
    assert found["filled"] == pytest.approx(0.01)
    ask = found["average"]
    assert 65000 <= ask <= 65010  # the pinned mid plus half the spread, on the venue's tick
    # Balances moved: the cost left USDT, the amount less the fee (in BTC) arrived.
    assert balance["USDT"]["total"] == pytest.approx(10000 - 0.01 * ask)
    assert 1 < balance["BTC"]["total"] < 1.01
    mine = [t for t in trades if t["order"] == placed["id"]]
    assert len(mine) == 1
    assert mine[0]["amount"] == pytest.approx(0.01)
    assert mine[0]["side"] == "buy"
    entries = by_client_id(sim, cid)
    assert len(entries) == 1
    assert entries[0]["order_id"] == placed["id"]
    assert entries[0]["api_key"] == KEYS[name]["api_key"]
    assert entries[0]["exchange"] == name


@pytest.mark.parametrize("name", VENUES)
def test_a_limit_order_rests_then_fills_when_the_price_crosses(sim, name, new_client_id):
    cid = new_client_id()

    async def place(exchange):
        placed = await exchange.create_order(
            SPOT, "limit", "buy", 0.01, 60000, {"clientOrderId": cid}
        )
        return placed, await exchange.fetch_open_orders(SPOT), await exchange.fetch_balance()

    placed, open_orders, balance = run(using(client(sim, name), place))
    assert [o["clientOrderId"] for o in open_orders] == [cid]
    assert open_orders[0]["status"] == "open"
    assert open_orders[0]["price"] == 60000
    assert balance["USDT"]["used"] == pytest.approx(600)  # the order holds its cost
    assert by_client_id(sim, cid) == []

    sim.control("prices", {"BTC": "59000"})

    async def after(exchange):
        return await lookup_by_client_id(exchange, SPOT, cid), await exchange.fetch_open_orders(
            SPOT
        )

    found, still_open = run(using(client(sim, name), after))
    assert found["id"] == placed["id"]
    assert found["status"] == "closed"
    assert found["average"] == 60000  # a resting order fills at its own price
    assert still_open == []
    entries = by_client_id(sim, cid)
    assert [(e["price"], e["amount"]) for e in entries] == [("60000", "0.01")]


@pytest.mark.parametrize("name", VENUES)
def test_cancel_by_id_and_by_client_id(sim, name, new_client_id):
    first, second = new_client_id(), new_client_id()
    by_cid = {"binance": "origClientOrderId", "bybit": "orderLinkId", "okx": "clientOrderId"}[name]

    async def scenario(exchange):
        a = await exchange.create_order(SPOT, "limit", "buy", 0.01, 60000, {"clientOrderId": first})
        await exchange.create_order(SPOT, "limit", "sell", 0.01, 70000, {"clientOrderId": second})
        await exchange.cancel_order(a["id"], SPOT)
        await exchange.cancel_order(None if name != "binance" else "", SPOT, {by_cid: second})
        left = await exchange.fetch_open_orders(SPOT)
        balance = await exchange.fetch_balance()
        with raises_exactly(ccxt.OrderNotFound):
            await exchange.cancel_order(a["id"], SPOT)
        return left, balance, await lookup_by_client_id(exchange, SPOT, first)

    left, balance, canceled = run(using(client(sim, name), scenario))
    assert left == []
    assert balance["USDT"]["free"] == 10000
    assert balance["BTC"]["free"] == 1
    assert canceled["status"] == "canceled"
    assert by_client_id(sim, first) == []
    assert by_client_id(sim, second) == []


@pytest.mark.parametrize("name", VENUES)
def test_an_order_nobody_placed_is_not_found(sim, name):
    with raises_exactly(ccxt.OrderNotFound):
        run(using(client(sim, name), lambda e: lookup_by_client_id(e, SPOT, "syNeverPlaced1")))


def test_bybit_fetch_order_without_an_id_cannot_find_by_link_id(sim, new_client_id):
    """The trap: ccxt sends orderId=None, which Bybit matches before orderLinkId."""
    cid = new_client_id()

    async def scenario(exchange):
        await exchange.create_order(SPOT, "market", "buy", 0.01, None, {"clientOrderId": cid})
        with raises_exactly(ccxt.OrderNotFound):
            await exchange.fetch_order(None, SPOT, {"acknowledged": True, "orderLinkId": cid})
        return await exchange.fetch_canceled_and_closed_orders(
            SPOT, None, None, {"orderLinkId": cid}
        )

    history = run(using(client(sim, "bybit"), scenario))
    assert [o["clientOrderId"] for o in history] == [cid]


@pytest.mark.parametrize("name", VENUES)
def test_buying_more_than_the_balance_is_insufficient_funds(sim, name):
    before = len(sim.ledger())
    with raises_exactly(ccxt.InsufficientFunds):
        run(using(client(sim, name), lambda e: e.create_order(SPOT, "market", "buy", 1)))
    assert len(sim.ledger()) == before


@pytest.mark.parametrize("name", VENUES)
def test_selling_more_than_held_is_insufficient_funds(sim, name):
    with raises_exactly(ccxt.InsufficientFunds):
        run(using(client(sim, name), lambda e: e.create_order(SPOT, "limit", "sell", 2, 70000)))


def test_binance_unknown_symbol_is_bad_symbol(sim):
    exchange = client(sim, "binance")
    with raises_exactly(ccxt.BadSymbol, match="-1121"):
        run(using(exchange, lambda e: e.public_get_exchangeinfo({"symbol": "NOPEUSDT"})))
    order = {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
    with raises_exactly(ccxt.BadSymbol, match="-1121"):
        run(using(client(sim, "binance"), lambda e: e.private_post_order(order)))


def test_bybit_unknown_symbol_is_bad_symbol(sim):
    order = {
        "category": "spot",
        "symbol": "NOPEUSDT",
        "side": "Buy",
        "orderType": "Market",
        "qty": "1",
    }
    with raises_exactly(ccxt.BadSymbol, match="Not supported symbols"):
        run(using(client(sim, "bybit"), lambda e: e.private_post_v5_order_create(order)))


def test_okx_unknown_instrument_is_bad_symbol(sim):
    order = {"instId": "NOPE-USDT", "tdMode": "cash", "side": "buy", "ordType": "market", "sz": "1"}
    with raises_exactly(ccxt.BadSymbol, match="51001"):
        run(using(client(sim, "okx"), lambda e: e.private_post_trade_batch_orders([order])))


def test_a_symbol_ccxt_does_not_know_is_bad_symbol_before_any_request(sim):
    with raises_exactly(ccxt.BadSymbol):
        run(using(client(sim, "okx"), lambda e: e.create_order("NOPE/USDT", "market", "buy", 1)))


@pytest.mark.parametrize(
    ("name", "amount", "error", "code"),
    [
        # Binance answers -1013 "Filter failure: NOTIONAL"; ccxt 4.5.90 has no entry for it
        # and raises BadRequest, exactly as against the real venue.
        ("binance", 0.00005, ccxt.BadRequest, "NOTIONAL"),
        ("bybit", 0.00005, ccxt.InvalidOrder, "170140"),
        ("okx", 0.000005, ccxt.InvalidOrder, "51020"),
    ],
)
def test_an_order_below_the_minimum_value_is_refused(sim, name, amount, error, code):
    with raises_exactly(error, match=code):
        run(using(client(sim, name), lambda e: e.create_order(SPOT, "market", "buy", amount)))


def test_binance_quantity_below_the_lot_size_is_invalid_order(sim):
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.000001"}
    with raises_exactly(ccxt.InvalidOrder, match="LOT_SIZE"):
        run(using(client(sim, "binance"), lambda e: e.private_post_order(order)))


def test_bybit_quantity_below_the_minimum_is_invalid_order(sim):
    order = {
        "category": "spot",
        "symbol": "BTCUSDT",
        "side": "Sell",
        "orderType": "Market",
        "qty": "0.000005",
    }
    with raises_exactly(ccxt.InvalidOrder, match="170136"):
        run(using(client(sim, "bybit"), lambda e: e.private_post_v5_order_create(order)))


def test_okx_size_off_the_lot_is_invalid_order(sim):
    order = {
        "instId": "BTC-USDT-SWAP",
        "tdMode": "cross",
        "side": "buy",
        "ordType": "market",
        "sz": "1.05",
    }
    with raises_exactly(ccxt.InvalidOrder, match="51121"):
        run(using(client(sim, "okx"), lambda e: e.private_post_trade_batch_orders([order])))


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("binance-read-only", ccxt.AuthenticationError),  # -2015 on a fresh instance
        ("bybit-read-only", ccxt.PermissionDenied),  # 10005
        ("okx-read-only", ccxt.ExchangeError),  # 50120: not in ccxt's table
    ],
)
def test_a_read_only_key_cannot_trade(sim, name, error):
    before = len(sim.ledger())
    with raises_exactly(error):
        run(using(client(sim, name), lambda e: e.create_order(SPOT, "market", "buy", 0.01)))
    assert len(sim.ledger()) == before


def test_binance_read_only_key_after_a_successful_call_looks_rate_limited(sim):
    """ccxt maps -2015 to DDoSProtection once a private call has succeeded."""

    async def scenario(exchange):
        await exchange.fetch_balance()
        await exchange.create_order(SPOT, "market", "buy", 0.01)

    with raises_exactly(ccxt.DDoSProtection, match="-2015"):
        run(using(client(sim, "binance-read-only"), scenario))


@pytest.mark.parametrize("name", ["binance", "okx"])
def test_a_client_id_is_refused_while_its_order_is_open_and_free_once_it_is_done(
    sim, name, new_client_id
):
    cid = new_client_id()

    async def scenario(exchange):
        first = await exchange.create_order(
            SPOT, "limit", "buy", 0.01, 60000, {"clientOrderId": cid}
        )
        with raises_exactly(ccxt.InvalidOrder):
            await exchange.create_order(SPOT, "limit", "buy", 0.01, 60000, {"clientOrderId": cid})
        await exchange.cancel_order(first["id"], SPOT)
        # Done orders no longer reserve the id: a blind resend would trade twice.
        again = await exchange.create_order(
            SPOT, "market", "buy", 0.01, None, {"clientOrderId": cid}
        )
        return again["clientOrderId"]

    assert run(using(client(sim, name), scenario)) == cid
    assert len(by_client_id(sim, cid)) == 1


def test_bybit_refuses_a_link_id_used_before_even_once_the_order_is_done(sim, new_client_id):
    cid = new_client_id()

    async def scenario(exchange):
        await exchange.create_order(SPOT, "market", "buy", 0.01, None, {"clientOrderId": cid})
        with raises_exactly(ccxt.InvalidOrder, match="170141"):
            await exchange.create_order(SPOT, "market", "buy", 0.01, None, {"clientOrderId": cid})

    run(using(client(sim, "bybit"), scenario))
    assert len(by_client_id(sim, cid)) == 1


def test_binance_rejects_a_client_id_outside_its_format(sim):
    with raises_exactly(ccxt.BadRequest, match="-1100"):
        run(
            using(
                client(sim, "binance"),
                lambda e: e.create_order(
                    SPOT, "market", "buy", 0.01, None, {"clientOrderId": "bad id!"}
                ),
            )
        )
