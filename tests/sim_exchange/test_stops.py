"""Stop loss and take profit attached to Bybit and OKX perpetual orders, through real ccxt:
taken as each exchange takes them, checked with its own codes, kept on the position,
listed (Bybit's position, OKX's pending algo orders) and triggered by the price."""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt
import pytest

from tests.sim_exchange.helpers import PERP, by_client_id, client, raises_exactly, run, using

AMOUNT = {"bybit": 0.01, "okx": 1}
STOPS = {"stopLoss": {"triggerPrice": 64000}, "takeProfit": {"triggerPrice": 66500}}


async def _stops_of(exchange: Any) -> tuple[Any, Any]:
    """The position's (stop loss, take profit) as the exchange lists them."""
    if exchange.id == "bybit":
        (position,) = await exchange.fetch_positions([PERP])
        return position["stopLossPrice"], position["takeProfitPrice"]
    answer = await exchange.private_get_trade_orders_algo_pending(
        {"instType": "SWAP", "ordType": "conditional,oco"}
    )
    if not answer["data"]:
        return None, None
    (algo,) = answer["data"]
    return algo["slTriggerPx"], algo["tpTriggerPx"]


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_an_order_with_stops_opens_a_position_that_lists_them(sim, name, new_client_id):
    cid = new_client_id()

    async def scenario(exchange):
        await exchange.create_order(
            PERP, "market", "buy", AMOUNT[name], None, {"clientOrderId": cid, **STOPS}
        )
        return await _stops_of(exchange)

    sl, tp = run(using(client(sim, name), scenario))
    assert float(sl) == 64000
    assert float(tp) == 66500
    assert len(by_client_id(sim, cid)) == 1


@pytest.mark.parametrize(
    ("name", "error", "code"),
    [("bybit", ccxt.BadRequest, "10001"), ("okx", ccxt.InvalidOrder, "51051")],
)
def test_a_buys_stop_loss_above_the_price_is_refused_with_the_exchanges_code(
    sim, name, error, code, new_client_id
):
    cid = new_client_id()
    params = {"clientOrderId": cid, "stopLoss": {"triggerPrice": 65500}}
    with raises_exactly(error, match=code) as info:
        run(
            using(
                client(sim, name),
                lambda e: e.create_order(PERP, "market", "buy", AMOUNT[name], None, params),
            )
        )
    assert "stop" in str(info.value).lower()
    assert by_client_id(sim, cid) == []


@pytest.mark.parametrize(("name", "code"), [("bybit", "10001"), ("okx", "51049")])
def test_a_limit_sells_stop_loss_below_its_price_is_refused(sim, name, code, new_client_id):
    params = {"clientOrderId": new_client_id(), "stopLoss": {"triggerPrice": 64000}}
    with pytest.raises(ccxt.ExchangeError, match=code):
        run(
            using(
                client(sim, name),
                lambda e: e.create_order(PERP, "limit", "sell", AMOUNT[name], 64500, params),
            )
        )


def test_okx_refuses_a_stop_limit_price_it_does_not_simulate_with_51000(sim, new_client_id):
    params = {"clientOrderId": new_client_id(), "stopLoss": {"triggerPrice": 64000, "price": 63900}}
    with pytest.raises(ccxt.ExchangeError, match="51000"):
        run(
            using(
                client(sim, "okx"),
                lambda e: e.create_order(PERP, "market", "buy", 1, None, params),
            )
        )


def test_bybit_refuses_a_stop_loss_that_is_not_a_number(sim):
    async def scenario(exchange):
        await exchange.load_markets()
        return await exchange.private_post_v5_order_create(
            {
                "category": "linear",
                "symbol": "BTCUSDT",
                "side": "Buy",
                "orderType": "Market",
                "qty": "0.01",
                "stopLoss": "low",
            }
        )

    with raises_exactly(ccxt.BadRequest, match="10001"):
        run(using(client(sim, "bybit"), scenario))


@pytest.mark.parametrize(("name", "price", "which"), [
    ("bybit", "63900", "sl"), ("okx", "63900", "sl"), ("bybit", "66600", "tp"), ("okx", "66600", "tp"),
])  # fmt: skip
def test_a_stop_reached_closes_the_position_at_market_reduce_only(
    sim, name, price, which, new_client_id
):
    cid = new_client_id()
    run(
        using(
            client(sim, name),
            lambda e: e.create_order(
                PERP, "market", "buy", AMOUNT[name], None, {"clientOrderId": cid, **STOPS}
            ),
        )
    )
    (opening,) = by_client_id(sim, cid)
    before = len(sim.ledger())
    sim.control("prices", {"BTC": price})

    closing = [e for e in sim.ledger()[before:] if e["exchange"] == name]
    assert len(closing) == 1
    assert closing[0]["trigger"] == which
    assert closing[0]["reduce_only"] is True
    assert closing[0]["side"] == "sell"
    assert closing[0]["amount"] == opening["amount"]

    async def after(exchange):
        positions = await exchange.fetch_positions([PERP])
        trades = await exchange.fetch_my_trades(PERP)
        return positions, trades, await _stops_of(exchange)

    positions, trades, stops = run(using(client(sim, name), after))
    assert [p for p in positions if p["contracts"]] == []
    assert stops in ((None, None), (0, 0))
    (closed,) = [t for t in trades if t["order"] == closing[0]["order_id"]]
    pnl = closed["info"].get("execPnl") or closed["info"].get("fillPnl")
    expected = 0.01 * (float(closing[0]["price"]) - float(opening["price"]))
    assert float(pnl) == pytest.approx(expected)
    sim.control("prices", {"BTC": "65000"})  # the position is gone: nothing triggers again
    assert [e for e in sim.ledger()[before:] if e["exchange"] == name] == closing


def test_a_short_position_stop_loss_triggers_when_the_price_rises(sim, new_client_id):
    params = {"stopLoss": {"triggerPrice": 66000}, "takeProfit": {"triggerPrice": 64000}}
    run(
        using(
            client(sim, "bybit"),
            lambda e: e.create_order(PERP, "market", "sell", 0.01, None, params),
        )
    )
    before = len(sim.ledger())
    sim.control("prices", {"BTC": "65900"})
    assert sim.ledger()[before:] == []
    sim.control("prices", {"BTC": "66000"})
    (closing,) = sim.ledger()[before:]
    assert (closing["trigger"], closing["side"]) == ("sl", "buy")


def _trading_stop(**fields: str) -> dict[str, Any]:
    return {"category": "linear", "symbol": "BTCUSDT", "tpslMode": "Full", "positionIdx": 0,
            **fields}  # fmt: skip


def test_bybit_trading_stop_changes_an_open_positions_stops_and_zero_cancels_one(sim):
    async def scenario(exchange):
        await exchange.create_order(PERP, "market", "buy", 0.01, None, STOPS)
        await exchange.private_post_v5_position_trading_stop(_trading_stop(stopLoss="64500"))
        changed = await _stops_of(exchange)
        await exchange.private_post_v5_position_trading_stop(_trading_stop(takeProfit="0"))
        return changed, await _stops_of(exchange)

    changed, cancelled = run(using(client(sim, "bybit"), scenario))
    assert (changed[0], changed[1]) == (64500, 66500)
    assert (cancelled[0], cancelled[1]) == (64500, 0)  # Bybit lists no stop as "0"


@pytest.mark.parametrize(
    ("opened", "fields", "match"),
    [
        (True, {"stopLoss": "65100"}, "should lower than base_price"),
        (True, {"takeProfit": "high"}, "takeProfit invalid"),
        (False, {"stopLoss": "64000"}, "zero position"),
    ],
)
def test_bybit_trading_stop_refuses_with_10001(sim, opened, fields, match):
    async def scenario(exchange):
        if opened:
            await exchange.create_order(PERP, "market", "buy", 0.01)
        await exchange.private_post_v5_position_trading_stop(_trading_stop(**fields))

    with raises_exactly(ccxt.BadRequest, match=match) as info:
        run(using(client(sim, "bybit"), scenario))
    assert "10001" in str(info.value)


async def _okx_algo(exchange: Any) -> dict[str, Any]:
    """The one pending TP/SL algo order of the OKX swap position."""
    answer = await exchange.private_get_trade_orders_algo_pending(
        {"instType": "SWAP", "ordType": "conditional,oco"}
    )
    (algo,) = answer["data"]
    return dict(algo)


def _amend(algo: dict[str, Any], **fields: str) -> dict[str, Any]:
    return {"instId": "BTC-USDT-SWAP", "algoId": algo["algoId"], **fields}


def _place(**fields: Any) -> dict[str, Any]:
    """order-algo as switchyard sends it for a long position: closing sell, whole position."""
    return {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "sell", "closeFraction": "1",
            "reduceOnly": True, **fields}  # fmt: skip


SL_LEG = {"slTriggerPx": "64000", "slOrdPx": "-1", "slTriggerPxType": "last"}
TP_LEG = {"tpTriggerPx": "66500", "tpOrdPx": "-1", "tpTriggerPxType": "last"}


def test_okx_amend_algos_moves_an_attached_stop_and_the_trigger_follows_it(sim):
    async def scenario(exchange):
        await exchange.create_order(PERP, "market", "buy", 1, None, STOPS)
        algo = await _okx_algo(exchange)
        answer = await exchange.private_post_trade_amend_algos(
            _amend(algo, newSlTriggerPx="64500", newSlOrdPx="-1", newSlTriggerPxType="last")
        )
        return algo, answer, await _okx_algo(exchange)

    before, answer, after = run(using(client(sim, "okx"), scenario))
    assert answer["code"] == "0"
    assert (answer["data"][0]["algoId"], answer["data"][0]["sCode"]) == (before["algoId"], "0")
    assert after["algoId"] == before["algoId"]
    assert (after["slTriggerPx"], after["tpTriggerPx"]) == ("64500", "66500")
    mark = len(sim.ledger())
    sim.control("prices", {"BTC": "64550"})  # above the new stop loss: nothing
    assert sim.ledger()[mark:] == []
    sim.control("prices", {"BTC": "64450"})  # the old one (64000) would not trigger here
    (closing,) = sim.ledger()[mark:]
    assert (closing["trigger"], closing["side"], closing["reduce_only"]) == ("sl", "sell", True)


@pytest.mark.parametrize(
    ("stops", "fields", "error", "code"),
    [
        (STOPS, {"newSlTriggerPx": "65100", "newSlOrdPx": "-1"}, ccxt.InvalidOrder, "51280"),
        (STOPS, {"newTpTriggerPx": "64900", "newTpOrdPx": "-1"}, ccxt.InvalidOrder, "51279"),
        (STOPS, {"newSlTriggerPx": "64000.05"}, ccxt.BadRequest, "51000"),
        (STOPS, {"newSlTriggerPx": "0"}, ccxt.BadRequest, "51000"),
        (STOPS, {"newSlTriggerPx": "64100", "newSlOrdPx": "64000"}, ccxt.BadRequest, "51000"),
        (STOPS, {"newSz": "2", "newSlTriggerPx": "64100"}, ccxt.ExchangeError, "51524"),
        ({"stopLoss": {"triggerPrice": 64000}}, {"newTpTriggerPx": "66000"}, ccxt.ExchangeError,
         "51526"),
    ],
)  # fmt: skip
def test_okx_amend_algos_refuses_and_keeps_the_stops(sim, stops, fields, error, code):
    async def scenario(exchange):
        await exchange.create_order(PERP, "market", "buy", 1, None, stops)
        algo = await _okx_algo(exchange)
        try:
            await exchange.private_post_trade_amend_algos(_amend(algo, **fields))
        finally:
            kept = await _okx_algo(exchange)
        return algo, kept

    with raises_exactly(error, match=code):
        run(using(client(sim, "okx"), scenario))
    algo = run(using(client(sim, "okx"), _okx_algo))
    assert algo["slTriggerPx"] == "64000"


def test_okx_amend_algos_of_an_algo_order_that_is_not_there_is_order_not_found(sim):
    async def scenario(exchange):
        await exchange.create_order(PERP, "market", "buy", 1, None, STOPS)
        await exchange.private_post_trade_amend_algos(
            {"instId": "BTC-USDT-SWAP", "algoId": "1", "newSlTriggerPx": "64100"}
        )

    with raises_exactly(ccxt.OrderNotFound, match="51603"):
        run(using(client(sim, "okx"), scenario))


def test_okx_order_algo_puts_stops_on_a_position_without_any_and_they_trigger(sim):
    async def scenario(exchange):
        await exchange.create_order(PERP, "market", "buy", 1)
        answer = await exchange.private_post_trade_order_algo(
            _place(ordType="oco", algoClOrdId="sy0123456789abcdef01234567", **SL_LEG, **TP_LEG,
                   clOrdId="6b9ad766b55dBCDEef9e317e9453a3db", tag="6b9ad766b55dBCDE")
        )  # fmt: skip
        found = await exchange.private_get_trade_order_algo(
            {"algoClOrdId": "sy0123456789abcdef01234567"}
        )
        return answer, await _okx_algo(exchange), found

    answer, algo, found = run(using(client(sim, "okx"), scenario))
    (placed,) = answer["data"]
    assert (placed["sCode"], placed["algoClOrdId"]) == ("0", "sy0123456789abcdef01234567")
    # ccxt's fixture sends a broker clOrdId and tag with order-algo: taken and echoed
    assert (placed["clOrdId"], placed["tag"]) == (
        "6b9ad766b55dBCDEef9e317e9453a3db",
        "6b9ad766b55dBCDE",
    )
    assert placed["algoId"] == algo["algoId"] == found["data"][0]["algoId"]
    assert (algo["ordType"], algo["closeFraction"], algo["side"]) == ("oco", "1", "sell")
    assert (algo["slTriggerPx"], algo["tpTriggerPx"]) == ("64000", "66500")
    mark = len(sim.ledger())
    sim.control("prices", {"BTC": "66600"})
    (closing,) = sim.ledger()[mark:]
    assert (closing["trigger"], closing["reduce_only"]) == ("tp", True)


@pytest.mark.parametrize(
    ("opened", "fields", "error", "code"),
    [
        (True, {"ordType": "conditional", "slTriggerPx": "65100", "slOrdPx": "-1"},
         ccxt.InvalidOrder, "51280"),
        (True, {"ordType": "conditional", "tpTriggerPx": "64900", "tpOrdPx": "-1"},
         ccxt.InvalidOrder, "51279"),
        (True, {"ordType": "oco", **SL_LEG}, ccxt.BadRequest, "51000"),
        (True, {"ordType": "conditional", **SL_LEG, "reduceOnly": False}, ccxt.InvalidOrder,
         "51328"),
        (True, {"ordType": "conditional", **SL_LEG, "side": "buy"}, ccxt.ExchangeError, "51058"),
        (False, {"ordType": "conditional", **SL_LEG}, ccxt.ExchangeError, "51058"),
    ],
)  # fmt: skip
def test_okx_order_algo_refuses_with_okxs_code_and_places_nothing(sim, opened, fields, error, code):
    async def scenario(exchange):
        if opened:
            await exchange.create_order(PERP, "market", "buy", 1)
        await exchange.private_post_trade_order_algo(_place(**fields))

    with raises_exactly(error, match=code):
        run(using(client(sim, "okx"), scenario))
    answer = run(
        using(
            client(sim, "okx"),
            lambda e: e.private_get_trade_orders_algo_pending({"ordType": "conditional,oco"}),
        )
    )
    assert answer["data"] == []


def test_okx_order_algo_sent_twice_places_one_algo_order(sim):
    """The same algoClOrdId again is 51065; any second whole-position TP/SL is 51088."""
    request = _place(ordType="conditional", algoClOrdId="syfeedfacefeedfacefeedface", **SL_LEG)

    async def scenario(exchange):
        await exchange.create_order(PERP, "market", "buy", 1)
        await exchange.private_post_trade_order_algo(dict(request))
        errors = []
        for again in (dict(request), {**request, "algoClOrdId": "syother"}):
            try:
                await exchange.private_post_trade_order_algo(again)
            except ccxt.ExchangeError as exc:
                errors.append(str(exc))
        answer = await exchange.private_get_trade_orders_algo_pending({"ordType": "conditional"})
        return errors, answer["data"]

    errors, pending = run(using(client(sim, "okx"), scenario))
    assert ['"51065"' in errors[0], '"51088"' in errors[1]] == [True, True]
    assert [a["algoClOrdId"] for a in pending] == ["syfeedfacefeedfacefeedface"]


def test_okx_order_algo_looked_up_by_an_unknown_client_id_is_order_not_found(sim):
    with raises_exactly(ccxt.OrderNotFound, match="51603"):
        run(
            using(
                client(sim, "okx"),
                lambda e: e.private_get_trade_order_algo({"algoClOrdId": "synothere"}),
            )
        )
