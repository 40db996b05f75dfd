"""Markets, balances and the key-permission endpoints, through real ccxt over HTTP."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest

from tests.sim_exchange.helpers import (
    KEYS,
    PERP,
    SPOT,
    client,
    count_requests,
    raises_exactly,
    run,
    using,
)


@pytest.mark.parametrize(
    ("name", "requests", "symbols"),
    [
        ("binance", ["GET binance/api/v3/exchangeInfo"], {"BTC/USDT", "ETH/USDT"}),
        (
            "bybit",
            ["GET bybit/v5/market/instruments-info"] * 3,
            {"BTC/USDT", "ETH/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"},
        ),
        (
            "okx",
            ["GET okx/api/v5/public/instruments"] * 2,
            {"BTC/USDT", "ETH/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"},
        ),
    ],
)
def test_load_markets_with_the_cut_down_options_makes_only_the_market_calls(
    sim, name, requests, symbols
):
    exchange = client(sim, name)
    seen = count_requests(exchange)
    markets = run(using(exchange, lambda e: e.load_markets()))
    assert set(markets) == symbols
    assert seen == requests
    spot = markets[SPOT]
    assert spot["spot"]
    assert spot["active"]
    assert spot["limits"]["amount"]["min"] > 0
    if PERP in markets:
        assert markets[PERP]["linear"]
        assert markets[PERP]["settle"] == "USDT"


def test_binance_markets_carry_the_order_types_and_filters_ccxt_checks(sim):
    markets = run(using(client(sim, "binance"), lambda e: e.load_markets()))
    btc = markets[SPOT]
    assert "MARKET" in btc["info"]["orderTypes"]
    assert "LIMIT" in btc["info"]["orderTypes"]
    assert btc["precision"]["amount"] == 0.00001
    assert btc["precision"]["price"] == 0.01
    assert btc["limits"]["cost"]["min"] == 5


def test_okx_swap_contract_size_is_the_venues(sim):
    markets = run(using(client(sim, "okx"), lambda e: e.load_markets()))
    assert markets[PERP]["contractSize"] == 0.01
    assert markets[PERP]["precision"]["amount"] == 0.1


@pytest.mark.parametrize("name", ["binance", "bybit", "okx"])
def test_fetch_balance_reports_the_accounts_file(sim, name):
    balance = run(using(client(sim, name), lambda e: e.fetch_balance()))
    assert balance["USDT"]["total"] == 10000
    assert balance["USDT"]["free"] == 10000
    assert balance["BTC"]["total"] == 1
    assert balance["ETH"]["free"] == 10


@pytest.mark.parametrize("name", ["binance", "bybit", "okx"])
def test_fetch_time_is_the_servers(sim, name):
    server_ms = run(using(client(sim, name), lambda e: e.fetch_time()))
    assert server_ms > 1_600_000_000_000


@pytest.mark.parametrize(
    ("name", "reading", "trading", "withdrawing"),
    [
        ("binance", True, True, False),
        ("binance-read-only", True, False, False),
        ("binance-withdraw", True, True, True),
    ],
)
def test_binance_api_restrictions_through_the_implicit_sapi_method(
    sim, name, reading, trading, withdrawing
):
    answer = run(using(client(sim, name), lambda e: e.sapi_get_account_apirestrictions()))
    assert answer["enableReading"] is reading
    assert answer["enableSpotAndMarginTrading"] is trading
    assert answer["enableWithdrawals"] is withdrawing
    assert answer["ipRestrict"] is False


def test_binance_ip_restricted_key_is_reported_so_and_refused_from_elsewhere(sim):
    with raises_exactly(ccxt.AuthenticationError, match="-2015"):
        run(using(client(sim, "binance-ip"), lambda e: e.sapi_get_account_apirestrictions()))


@pytest.mark.parametrize(
    ("name", "read_only", "trades", "withdraws"),
    [
        ("bybit", 0, True, False),
        ("bybit-read-only", 1, False, False),
        ("bybit-withdraw", 0, True, True),
    ],
)
def test_bybit_query_api_through_the_implicit_method(sim, name, read_only, trades, withdraws):
    answer = run(using(client(sim, name), lambda e: e.private_get_v5_user_query_api()))
    result = answer["result"]
    assert result["apiKey"] == KEYS[name]["api_key"]
    assert result["secret"] == ""
    assert result["readOnly"] == read_only
    assert ("SpotTrade" in result["permissions"]["Spot"]) is trades
    assert ("Order" in result["permissions"]["ContractTrade"]) is trades
    assert ("Withdraw" in result["permissions"]["Wallet"]) is withdraws
    assert result["ips"] == ["*"]
    assert result["uta"] == 1


def test_bybit_account_info_says_unified(sim):
    answer = run(using(client(sim, "bybit"), lambda e: e.private_get_v5_account_info()))
    assert answer["result"]["unifiedMarginStatus"] >= 5


@pytest.mark.parametrize(
    ("name", "perm"),
    [
        ("okx", "read_only,trade"),
        ("okx-read-only", "read_only"),
        ("okx-withdraw", "read_only,withdraw,trade"),
    ],
)
def test_okx_account_config_perm_through_the_implicit_method(sim, name, perm):
    answer = run(using(client(sim, name), lambda e: e.private_get_account_config()))
    assert answer["data"][0]["perm"] == perm
    assert answer["data"][0]["posMode"] == "net_mode"


@pytest.mark.parametrize("name", ["binance", "bybit", "okx"])
def test_a_wrong_secret_is_an_authentication_error(sim, name):
    exchange = client(sim, name, secret="not-the-secret")
    with raises_exactly(ccxt.AuthenticationError):
        run(using(exchange, lambda e: e.fetch_balance()))


@pytest.mark.parametrize(
    ("name", "unknown"),
    [
        ("binance", "Q" * 64),
        ("binance", "short-malformed-key"),
        ("bybit", "UnknownBybitKey001"),
        ("okx", "0b6c9a70-7a3e-4c1d-9f2e-0000000000ff"),
    ],
)
def test_an_unknown_key_is_an_authentication_error(sim, name, unknown):
    exchange = client(sim, name, apiKey=unknown)
    with raises_exactly(ccxt.AuthenticationError):
        run(using(exchange, lambda e: e.fetch_balance()))


def test_okx_wrong_passphrase_is_an_authentication_error(sim):
    exchange = client(sim, "okx", password="wrong-passphrase")
    with raises_exactly(ccxt.AuthenticationError, match="50105"):
        run(using(exchange, lambda e: e.fetch_balance()))


def test_okx_demo_key_without_the_simulated_trading_header_is_refused(sim):
    exchange = client(sim, "okx")
    exchange.set_sandbox_mode(False)
    exchange.urls["api"] = sim.ccxt_urls()["okx"]
    with raises_exactly(ccxt.AuthenticationError, match="50101"):
        run(using(exchange, lambda e: e.fetch_balance()))


def test_okx_live_key_works_without_the_header(sim):
    balance = run(using(client(sim, "okx-live"), lambda e: e.fetch_balance()))
    assert balance["USDT"]["total"] == 10000


@pytest.mark.parametrize(
    ("name", "error"),
    [("bybit-ip", ccxt.PermissionDenied), ("okx-ip", ccxt.PermissionDenied)],
)
def test_a_key_bound_to_other_ips_is_refused(sim, name, error):
    with raises_exactly(error):
        run(using(client(sim, name), lambda e: e.fetch_balance()))


def test_binance_testnet_has_no_sapi(sim):
    # On the real testnet ccxt refuses locally (no sapi URL); pointed here, the route is missing.
    with raises_exactly(ccxt.ExchangeNotAvailable, match="404"):
        run(using(client(sim, "binance-testnet"), lambda e: e.sapi_get_account_apirestrictions()))


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("binance", SPOT),
        ("bybit", SPOT),
        ("bybit", PERP),
        ("okx", SPOT),
        ("okx", PERP),
        ("coinbase", SPOT),
    ],
)
def test_fetch_ticker_answers_the_feeds_bid_and_ask(sim, name, symbol):
    ticker = run(using(client(sim, name), lambda e: e.fetch_ticker(symbol)))
    assert ticker["symbol"] == symbol
    assert 64900 < ticker["bid"] < ticker["ask"] < 65100  # BTC pinned at 65000
    assert ticker["last"] == 65000
