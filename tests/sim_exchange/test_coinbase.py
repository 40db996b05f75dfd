"""Coinbase Advanced Trade through unmodified ccxt.async_support.coinbase over HTTP: the
ES256 JWT every private request carries, the key's permissions, orders, the duplicate
safeguard of client order ids, and the exception ccxt raises for each refusal."""

from __future__ import annotations

import secrets
import time
from typing import Any

import ccxt.async_support as ccxt
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.sim_exchange.helpers import (
    KEYS,
    SPOT,
    _cdp_key,
    by_client_id,
    client,
    count_requests,
    raises_exactly,
    run,
    using,
)

BTC_PRICE = 65000  # pinned by the fixture; a market buy is sized as amount x price in USDT


def buy(cid: str, amount: float = 0.01) -> Any:
    return lambda e: e.create_order(SPOT, "market", "buy", amount, BTC_PRICE,
                                    {"client_order_id": cid})  # fmt: skip


def test_markets_are_the_spot_products_loaded_in_three_calls(sim):
    exchange = client(sim, "coinbase")
    seen = count_requests(exchange)
    markets = run(using(exchange, lambda e: e.load_markets()))
    assert sorted(markets) == ["BTC/USDC", "BTC/USDT", "ETH/USDT"]
    btc = markets["BTC/USDT"]
    assert (btc["precision"]["amount"], btc["precision"]["price"]) == (1e-8, 0.01)
    assert (btc["limits"]["cost"]["min"], btc["taker"], btc["maker"]) == (1, 0.012, 0.006)
    assert sorted(seen) == [
        "GET coinbase/api/v3/brokerage/market/products",
        "GET coinbase/api/v3/brokerage/market/products",  # product_type=FUTURE: none here
        "GET coinbase/api/v3/brokerage/transaction_summary",
    ]


@pytest.mark.parametrize(
    ("name", "rights"),
    [
        ("coinbase", (True, True, False)),
        ("coinbase-read-only", (True, False, False)),
        ("coinbase-transfer", (True, True, True)),
    ],
)
def test_balances_and_the_keys_permissions(sim, name, rights):
    async def read(e: Any) -> tuple[Any, Any]:
        return await e.fetch_balance(), await e.v3PrivateGetBrokerageKeyPermissions()

    balance, permissions = run(using(client(sim, name), read))
    assert balance["USDT"] == {"free": 10000, "used": 0, "total": 10000}
    assert balance["BTC"]["total"] == 1
    got = (permissions["can_view"], permissions["can_trade"], permissions["can_transfer"])
    assert got == rights
    assert permissions["portfolio_type"] == "DEFAULT"


def test_an_unknown_key_a_wrong_private_key_and_a_revoked_key_are_unauthorized(sim):
    stranger = _cdp_key("cb-stranger")
    with raises_exactly(ccxt.AuthenticationError, match="401"):
        run(using(client(sim, "coinbase", apiKey=stranger["api_key"]), lambda e: e.fetch_balance()))
    # The right key name signed with another private key: the signature does not verify.
    forged = client(sim, "coinbase", secret=stranger["api_secret"])
    with raises_exactly(ccxt.AuthenticationError):
        run(using(forged, lambda e: e.fetch_balance()))
    sim.control("keys/revoke", {"api_key": KEYS["coinbase"]["api_key"], "exchange": "coinbase"})
    with raises_exactly(ccxt.AuthenticationError):
        run(using(client(sim, "coinbase"), lambda e: e.fetch_balance()))


def test_a_skewed_clock_and_an_address_outside_the_allow_list_are_unauthorized(sim):
    with raises_exactly(ccxt.AuthenticationError):
        run(using(client(sim, "coinbase-ip"), lambda e: e.fetch_balance()))
    sim.control("clock", {"skew_ms": 180_000})  # past the JWT's exp (nbf + 120 s)
    with raises_exactly(ccxt.AuthenticationError):
        run(using(client(sim, "coinbase"), lambda e: e.fetch_balance()))
    sim.control("clock", {"skew_ms": -30_000})  # before its nbf
    with raises_exactly(ccxt.AuthenticationError):
        run(using(client(sim, "coinbase"), lambda e: e.fetch_balance()))


def _token(name: str, method: str, target: str, **changes: Any) -> str:
    key = load_pem_private_key(KEYS[name]["api_secret"].encode(), password=None)
    now = int(time.time())
    claims = {"sub": KEYS[name]["api_key"], "iss": "cdp", "nbf": now, "exp": now + 120}
    claims["uri"] = f"{method} {target}"
    headers = {"kid": KEYS[name]["api_key"], "nonce": secrets.token_hex()}
    headers.update(changes.pop("headers", {}))
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="ES256", headers=headers)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("what", "changes"),
    [
        ("nothing: the SDK's own shape", {}),
        ("another request's uri", {"uri": "GET {host}/coinbase/api/v3/brokerage/key_permissions"}),
        ("a foreign issuer", {"iss": "someone"}),
        ("no nbf", {"nbf": None}),
        ("a lifetime over 120 s", {"exp": int(time.time()) + 600}),
        ("another subject", {"sub": "organizations/x/apiKeys/y"}),
        ("no nonce", {"headers": {"nonce": None}}),
    ],
)
def test_every_claim_of_the_jwt_is_checked(sim, what, changes):
    host = sim.url.removeprefix("http://")
    path = "/coinbase/api/v3/brokerage/accounts"
    if "uri" in changes:
        changes = {**changes, "uri": changes["uri"].format(host=host)}
    token = _token("coinbase", "GET", f"{host}{path}", **changes)
    answer = httpx.get(f"{sim.url}{path}", headers={"Authorization": f"Bearer {token}"})
    if what.startswith("nothing"):
        assert answer.status_code == 200, answer.text
        assert answer.json()["accounts"]
    else:
        assert (answer.status_code, answer.text) == (401, "Unauthorized\n"), what


def test_a_read_only_key_may_not_place_an_order(sim, new_client_id):
    cid = new_client_id()
    with raises_exactly(ccxt.PermissionDenied, match="Missing required scopes"):
        run(using(client(sim, "coinbase-read-only"), buy(cid)))
    assert by_client_id(sim, cid) == []


def test_market_buy_and_sell_fill_at_once_with_fees_in_quote(sim, new_client_id):
    cid, sell_cid = new_client_id(), new_client_id()

    async def trade(e: Any) -> tuple[Any, Any, Any]:
        placed = await e.create_order(SPOT, "market", "buy", 0.01, BTC_PRICE,
                                      {"client_order_id": cid})  # fmt: skip
        bought = await e.fetch_order(placed["id"], SPOT)
        sold = await e.create_order(SPOT, "market", "sell", 0.005, None,
                                    {"client_order_id": sell_cid})  # fmt: skip
        return bought, await e.fetch_order(sold["id"], SPOT), await e.fetch_balance()

    bought, sold, balance = run(using(client(sim, "coinbase"), trade))
    assert bought["clientOrderId"] == cid
    assert bought["status"] == "closed"
    assert bought["fee"]["currency"] == "USDT"
    # 650 USDT spent, the 1.2% taker fee included: 650 / 65003.25 / 1.012 BTC, on its step.
    assert bought["filled"] == pytest.approx(650 / 65003.25 / 1.012, abs=1e-8)
    assert sold["status"] == "closed"
    assert sold["filled"] == 0.005
    assert balance["BTC"]["total"] == pytest.approx(1 + bought["filled"] - 0.005, abs=1e-12)
    (fill,) = by_client_id(sim, cid)
    assert (fill["fee_asset"], fill["api_key"]) == ("USDT", KEYS["coinbase"]["api_key"])


def test_a_limit_order_rests_holds_its_funds_and_cancels(sim, new_client_id):
    cid = new_client_id()

    async def rest(e: Any) -> tuple[Any, Any, Any, Any]:
        placed = await e.create_order(SPOT, "limit", "buy", 0.01, 60000, {"client_order_id": cid})
        open_orders = await e.fetch_open_orders(SPOT)
        held = await e.fetch_balance()
        await e.cancel_order(placed["id"])
        return placed, open_orders, held, await e.fetch_order(placed["id"])

    placed, open_orders, held, cancelled = run(using(client(sim, "coinbase"), rest))
    assert [o["clientOrderId"] for o in open_orders] == [cid]
    assert held["USDT"]["used"] == pytest.approx(600 * 1.012)
    assert cancelled["status"] == "canceled"
    assert cancelled["price"] == 60000
    assert by_client_id(sim, cid) == []
    # A cancelled order cannot be cancelled again: ccxt raises BadRequest, as against Coinbase.
    with raises_exactly(ccxt.BadRequest, match="cancelOrders"):
        run(using(client(sim, "coinbase"), lambda e: e.cancel_order(placed["id"])))


def test_a_resting_limit_order_fills_when_the_price_crosses_it(sim, new_client_id):
    cid = new_client_id()
    order = run(using(client(sim, "coinbase"),
                      lambda e: e.create_order(SPOT, "limit", "sell", 0.01, 66000,
                                               {"client_order_id": cid})))  # fmt: skip
    sim.control("prices", {"BTC": "66500"})
    found = run(using(client(sim, "coinbase"), lambda e: e.fetch_order(order["id"], SPOT)))
    assert found["status"] == "closed"
    assert found["average"] == 66000
    trades = run(using(client(sim, "coinbase"), lambda e: e.fetch_my_trades(SPOT)))
    assert [(t["order"], t["takerOrMaker"]) for t in trades] == [(order["id"], "maker")]


def test_a_client_order_id_used_again_places_nothing_and_answers_the_first_order(
    sim, new_client_id
):
    cid = new_client_id()
    first = run(using(client(sim, "coinbase"), buy(cid)))
    again = run(using(client(sim, "coinbase"), buy(cid, amount=0.02)))
    assert again["id"] == first["id"]
    assert len(by_client_id(sim, cid)) == 1


def test_the_order_is_found_by_its_client_order_id_after_a_time_out(sim, new_client_id):
    cid = new_client_id()
    sim.control("faults", {"kind": "hold", "exchange": "coinbase", "hold_s": 60})
    with raises_exactly(ccxt.RequestTimeout):
        run(using(client(sim, "coinbase", timeout=1500), buy(cid)))
    orders = run(using(client(sim, "coinbase"), lambda e: e.fetch_orders(SPOT)))
    found = [o for o in orders if o["clientOrderId"] == cid]
    assert len(found) == 1
    assert found[0]["status"] == "closed"
    assert [e["order_id"] for e in by_client_id(sim, cid)] == [found[0]["id"]]


@pytest.mark.parametrize(
    ("amount", "error", "match"),
    [
        (100, ccxt.InsufficientFunds, "PREVIEW_INSUFFICIENT_FUND"),
        (0.00001, ccxt.ExchangeError, "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL"),  # 0.65 < 1 USDT
    ],
)
def test_a_refused_order_raises_what_ccxt_raises_against_coinbase(
    sim, new_client_id, amount, error, match
):
    with raises_exactly(error, match=match):
        run(using(client(sim, "coinbase"), buy(new_client_id(), amount=amount)))


def test_an_unknown_order_is_a_plain_exchange_error(sim):
    missing = "c0b50000-0000-0000-0000-00000000dead"
    with raises_exactly(ccxt.ExchangeError, match="order with this orderID was not found"):
        run(using(client(sim, "coinbase"), lambda e: e.fetch_order(missing, SPOT)))


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("rate_limit", ccxt.RateLimitExceeded),  # 429 rate_limit_exceeded
        ("maintenance", ccxt.ExchangeNotAvailable),  # a bare 503
        ("unavailable", ccxt.ExchangeNotAvailable),  # a gateway's 502 page
    ],
)
def test_a_refusing_fault_executes_nothing(sim, new_client_id, kind, error):
    cid = new_client_id()
    sim.control("faults", {"kind": kind, "exchange": "coinbase", "orders_only": True})
    with raises_exactly(error):
        run(using(client(sim, "coinbase"), buy(cid)))
    assert by_client_id(sim, cid) == []


def test_a_market_buy_sized_in_base_currency_buys_exactly_that(sim, new_client_id):
    cid = new_client_id()
    configuration = {"market_market_ioc": {"base_size": "0.02"}}
    params = {"client_order_id": cid, "order_configuration": configuration}
    exchange = client(sim, "coinbase", options={"createMarketBuyOrderRequiresPrice": False})
    run(using(exchange, lambda e: e.create_order(SPOT, "market", "buy", 0.02, None, params)))
    (fill,) = by_client_id(sim, cid)
    assert (fill["amount"], fill["side"]) == ("0.02", "buy")


@pytest.mark.parametrize(
    "configuration",
    [
        {"market_market_ioc": {}},  # no size at all
        {"market_market_ioc": {"base_size": "0.01", "quote_size": "650"}},  # both
        {"limit_limit_gtc": {"base_size": "0.01"}},  # no limit price
        {"twap_limit_gtd": {"base_size": "0.01", "limit_price": "60000"}},  # not offered here
    ],
)
def test_a_malformed_order_configuration_is_a_bad_request_and_places_nothing(
    sim, new_client_id, configuration
):
    cid = new_client_id()
    params = {"client_order_id": cid, "order_configuration": configuration}
    with raises_exactly(ccxt.BadRequest, match="INVALID_ARGUMENT"):
        run(
            using(
                client(sim, "coinbase"),
                lambda e: e.create_order(SPOT, "market", "sell", 0.01, None, params),
            )
        )
    assert by_client_id(sim, cid) == []
