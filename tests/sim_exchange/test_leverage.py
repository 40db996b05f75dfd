"""Setting a perpetual's leverage: Bybit's POST /v5/position/set-leverage and OKX's POST
/api/v5/account/set-leverage, through real ccxt (and raw where ccxt would refuse a value
before sending it): signed like every private call, kept per account and market, answered
with each exchange's own codes, and used for the margin an opening order needs."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest

from tests.sim_exchange.helpers import KEYS, PERP, client, raises_exactly, run, using

MARKET_ID = {"bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP"}
#: 0.2 BTC on each: Bybit counts BTC, OKX contracts of 0.01 BTC.
FIFTH_OF_A_BTC = {"bybit": 0.2, "okx": 20}


def state(sim, name: str) -> dict[str, dict[str, int]]:
    """What the simulator keeps for key `name`: leverage and requests, per market id."""
    accounts = sim.inspect("leverage")["accounts"]
    return accounts.get(f"{KEYS[name]['exchange']}:{name}", {})


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_the_leverage_is_kept_per_account_and_market_and_positions_report_it(sim, name):
    async def scenario(exchange):
        await exchange.set_leverage(3, PERP)
        await exchange.create_order(PERP, "market", "buy", FIFTH_OF_A_BTC[name] / 20)
        return await exchange.fetch_positions([PERP])

    [position] = run(using(client(sim, name), scenario))
    assert position["leverage"] == 3
    assert state(sim, name) == {MARKET_ID[name]: {"leverage": 3, "requests": 1}}
    # another account of the same exchange keeps its own (none asked: not listed)
    assert state(sim, f"{name}-ip") == {}


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_the_opening_margin_is_the_notional_over_the_leverage(sim, name):
    """0.2 BTC at ~65000 is ~13000 USDT of notional against 10000 USDT: refused at 1x with
    the exchange's insufficient-balance code (ccxt: InsufficientFunds), opened at 2x."""
    amount = FIFTH_OF_A_BTC[name]

    async def at(leverage: int):
        async def scenario(exchange):
            await exchange.set_leverage(leverage, PERP)
            return await exchange.create_order(PERP, "market", "buy", amount)

        return await using(client(sim, name), scenario)

    with raises_exactly(ccxt.InsufficientFunds, match={"bybit": "110007", "okx": "51008"}[name]):
        run(at(1))
    assert run(at(2))["id"]


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_a_set_leverage_with_a_bad_signature_is_refused_and_changes_nothing(sim, name):
    with raises_exactly(ccxt.AuthenticationError, match={"bybit": "10004", "okx": "50113"}[name]):
        run(using(client(sim, name, secret="not-the-secret"), lambda e: e.set_leverage(4, PERP)))
    assert state(sim, name) == {}


@pytest.mark.parametrize(
    ("name", "error", "code"),
    [("bybit", ccxt.PermissionDenied, "10005"), ("okx", ccxt.ExchangeError, "50120")],
)
def test_a_read_only_key_may_not_set_the_leverage(sim, name, error, code):
    with raises_exactly(error, match=code):  # ccxt leaves OKX's 50120 unmapped
        run(using(client(sim, f"{name}-read-only"), lambda e: e.set_leverage(4, PERP)))
    assert state(sim, f"{name}-read-only") == {}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"buyLeverage": "0", "sellLeverage": "0"}, "10001"),
        ({"buyLeverage": "101", "sellLeverage": "101"}, "10001"),  # the market's maximum: 100
        ({"buyLeverage": "5", "sellLeverage": "6"}, "10001"),  # one-way mode: both sides alike
        ({"buyLeverage": "five", "sellLeverage": "five"}, "10001"),
    ],
)
def test_bybit_refuses_a_bad_leverage_with_its_own_code(sim, params, code):
    request = {"category": "linear", "symbol": "BTCUSDT", **params}

    async def scenario(exchange):
        await exchange.load_markets()
        return await exchange.private_post_v5_position_set_leverage(request)

    with raises_exactly(ccxt.BadRequest, match=f'"retCode": ?{code}'):
        run(using(client(sim, "bybit"), scenario))
    assert state(sim, "bybit").get("BTCUSDT", {}).get("leverage", 10) == 10


def test_bybit_says_set_leverage_not_modified_for_the_leverage_it_already_has(sim):
    async def scenario(exchange):
        await exchange.set_leverage(8, PERP)
        await exchange.set_leverage(8, PERP)

    with raises_exactly(ccxt.BadRequest, match="110043.*Set leverage not modified"):
        run(using(client(sim, "bybit"), scenario))
    assert state(sim, "bybit") == {"BTCUSDT": {"leverage": 8, "requests": 2}}


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ({"lever": "0", "mgnMode": "cross"}, ccxt.BadRequest, "51000"),
        ({"lever": "2.5", "mgnMode": "cross"}, ccxt.BadRequest, "51000"),
        ({"lever": "5", "mgnMode": "portfolio"}, ccxt.BadRequest, "51000"),
        ({"lever": "101", "mgnMode": "cross"}, ccxt.ExchangeError, "59102"),
    ],
)
def test_okx_refuses_a_bad_leverage_with_its_own_code(sim, body, error, code):
    """Raw, since ccxt's set_leverage refuses a lever outside 1..125 before sending it."""

    async def scenario(exchange):
        await exchange.load_markets()
        return await exchange.private_post_account_set_leverage({"instId": "BTC-USDT-SWAP", **body})

    with raises_exactly(error, match=f'"code": ?"{code}"'):
        run(using(client(sim, "okx"), scenario))
    assert state(sim, "okx").get("BTC-USDT-SWAP", {}).get("leverage", 10) == 10
