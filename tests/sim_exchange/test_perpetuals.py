"""USDT linear perpetuals on Bybit and OKX: leverage, open, positions, reduce-only close."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest

from tests.sim_exchange.helpers import PERP, by_client_id, client, raises_exactly, run, using

#: One lot-sized opening amount per venue: Bybit counts BTC, OKX counts 0.01 BTC contracts.
AMOUNT = {"bybit": 0.01, "okx": 1}


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_open_then_close_a_perpetual_with_reduce_only(sim, name, new_client_id):
    opening, closing = new_client_id(), new_client_id()
    amount = AMOUNT[name]

    async def open_position(exchange):
        await exchange.set_leverage(5, PERP)
        await exchange.create_order(PERP, "market", "buy", amount, None, {"clientOrderId": opening})
        return await exchange.fetch_positions([PERP]), await exchange.fetch_balance()

    positions, balance = run(using(client(sim, name), open_position))
    assert len(positions) == 1
    position = positions[0]
    assert position["symbol"] == PERP
    assert position["side"] == "long"
    assert position["contracts"] == pytest.approx(amount)
    assert position["leverage"] == 5
    assert 65000 <= position["entryPrice"] <= 65010
    # 0.01 BTC at ~65000 with 5x: about 130 USDT of margin is no longer free.
    assert balance["USDT"]["free"] == pytest.approx(10000 - 130, abs=2)

    sim.control("prices", {"BTC": "66000"})

    async def close_position(exchange):
        marked = await exchange.fetch_positions([PERP])
        await exchange.create_order(
            PERP, "market", "sell", amount, None, {"clientOrderId": closing, "reduceOnly": True}
        )
        return marked, await exchange.fetch_positions([PERP]), await exchange.fetch_balance()

    marked, after, balance = run(using(client(sim, name), close_position))
    assert marked[0]["unrealizedPnl"] == pytest.approx(0.01 * (66000 - position["entryPrice"]))
    assert [p for p in after if p["contracts"]] == []
    # About +10 USDT of profit, less two taker fees.
    assert balance["USDT"]["total"] == pytest.approx(10000 + 10, abs=1)
    assert balance["USDT"]["free"] == pytest.approx(balance["USDT"]["total"])
    (closed,) = by_client_id(sim, closing)
    assert closed["reduce_only"] is True
    assert closed["side"] == "sell"
    assert len(by_client_id(sim, opening)) == 1


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_a_reduce_only_order_larger_than_the_position_only_closes_it(sim, name, new_client_id):
    amount = AMOUNT[name]
    cid = new_client_id()

    async def scenario(exchange):
        await exchange.create_order(PERP, "market", "sell", amount)
        await exchange.create_order(
            PERP, "market", "buy", amount * 3, None, {"clientOrderId": cid, "reduceOnly": True}
        )
        return await exchange.fetch_positions([PERP])

    positions = run(using(client(sim, name), scenario))
    assert [p for p in positions if p["contracts"]] == []
    (entry,) = by_client_id(sim, cid)
    assert float(entry["amount"]) == pytest.approx(amount)


@pytest.mark.parametrize(
    ("name", "error", "code"),
    [("bybit", ccxt.InvalidOrder, "110017"), ("okx", ccxt.ExchangeError, "51169")],
)
def test_reduce_only_without_a_position_is_refused(sim, name, error, code):
    with raises_exactly(error, match=code):
        run(
            using(
                client(sim, name),
                lambda e: e.create_order(
                    PERP, "market", "sell", AMOUNT[name], None, {"reduceOnly": True}
                ),
            )
        )


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_opening_beyond_the_margin_is_insufficient_funds(sim, name):
    too_much = {"bybit": 2, "okx": 200}[name]  # 2 BTC at 10x needs ~13000 USDT of margin
    with raises_exactly(ccxt.InsufficientFunds):
        run(using(client(sim, name), lambda e: e.create_order(PERP, "market", "buy", too_much)))


def test_bybit_refuses_setting_the_leverage_it_already_has(sim):
    """Bybit answers 110043 "leverage not modified"; ccxt raises BadRequest: an adapter must
    treat it as success."""

    async def scenario(exchange):
        await exchange.set_leverage(7, PERP)
        await exchange.set_leverage(7, PERP)

    with raises_exactly(ccxt.BadRequest, match="110043"):
        run(using(client(sim, "bybit"), scenario))


def test_okx_accepts_the_same_leverage_twice(sim):
    async def scenario(exchange):
        await exchange.set_leverage(7, PERP)
        return await exchange.set_leverage(7, PERP)

    answer = run(using(client(sim, "okx"), scenario))
    assert answer["data"][0]["lever"] == "7"


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_perpetual_fills_are_my_trades(sim, name, new_client_id):
    cid = new_client_id()

    async def scenario(exchange):
        placed = await exchange.create_order(
            PERP, "market", "buy", AMOUNT[name], None, {"clientOrderId": cid}
        )
        return placed, await exchange.fetch_my_trades(PERP)

    placed, trades = run(using(client(sim, name), scenario))
    mine = [t for t in trades if t["order"] == placed["id"]]
    assert len(mine) == 1
    assert mine[0]["symbol"] == PERP
    assert mine[0]["fee"]["currency"] == "USDT"


def test_a_perpetual_limit_order_rests_and_fills_when_crossed(sim, new_client_id):
    cid = new_client_id()

    async def place(exchange):
        await exchange.create_order(PERP, "limit", "buy", 0.01, 64000, {"clientOrderId": cid})
        return await exchange.fetch_open_orders(PERP)

    open_orders = run(using(client(sim, "bybit"), place))
    assert [o["clientOrderId"] for o in open_orders] == [cid]
    sim.control("prices", {"BTC": "63900"})
    positions = run(using(client(sim, "bybit"), lambda e: e.fetch_positions([PERP])))
    assert positions[0]["contracts"] == pytest.approx(0.01)
    assert positions[0]["entryPrice"] == 64000
