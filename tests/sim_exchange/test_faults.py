"""Fault switches, and the exception real ccxt raises for each as against the real venue."""

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


@pytest.mark.parametrize(
    ("name", "kind", "error"),
    [
        ("binance", "rate_limit", ccxt.DDoSProtection),  # 429 -1003: ccxt's binance raises DDoS
        ("binance", "ip_ban", ccxt.DDoSProtection),  # 418
        ("bybit", "rate_limit", ccxt.RateLimitExceeded),  # retCode 10006
        ("bybit", "ip_ban", ccxt.RateLimitExceeded),  # a bare 403
        ("okx", "rate_limit", ccxt.RateLimitExceeded),  # 429 50011
        ("binance", "unavailable", ccxt.ExchangeNotAvailable),  # a gateway's 502 page
        ("bybit", "unavailable", ccxt.ExchangeNotAvailable),
        ("okx", "unavailable", ccxt.ExchangeNotAvailable),
        (
            "binance",
            "maintenance",
            ccxt.OnMaintenance,
        ),  # {"code":1,"msg":"System is under maintenance."}
        ("okx", "maintenance", ccxt.OnMaintenance),  # 503 50001
        ("bybit", "maintenance", ccxt.ExchangeError),  # 10016: ccxt maps it to a bare ExchangeError
    ],
)
def test_a_refusing_fault_answers_as_the_venue_and_executes_nothing(sim, name, kind, error):
    before = len(sim.ledger())
    sim.control("faults", {"kind": kind, "exchange": name, "orders_only": True})
    with raises_exactly(error):
        run(using(client(sim, name), lambda e: e.create_order(SPOT, "market", "buy", 0.01)))
    assert len(sim.ledger()) == before
    # Spent: the next order goes through.
    placed = run(using(client(sim, name), lambda e: e.create_order(SPOT, "market", "buy", 0.01)))
    assert len(sim.ledger()) == before + 1
    assert placed["id"]


def test_a_fault_for_one_venue_leaves_the_others_alone(sim):
    sim.control("faults", {"kind": "rate_limit", "exchange": "okx", "count": 5})
    balance = run(using(client(sim, "binance"), lambda e: e.fetch_balance()))
    assert balance["USDT"]["total"] == 10000
    assert sim.control("faults", {"reset": True})["armed"] == []


@pytest.mark.parametrize("name", VENUES)
def test_a_time_out_after_executing_is_a_request_timeout_and_the_order_exists_once(
    sim, name, new_client_id
):
    cid = new_client_id()
    sim.control("faults", {"kind": "hold", "exchange": name, "hold_s": 60})
    exchange = client(sim, name, timeout=1500)
    with raises_exactly(ccxt.RequestTimeout):
        run(
            using(
                exchange,
                lambda e: e.create_order(SPOT, "market", "buy", 0.01, None, {"clientOrderId": cid}),
            )
        )
    # The look-up after doubt finds the order; nothing was executed twice.
    found = run(using(client(sim, name), lambda e: lookup_by_client_id(e, SPOT, cid)))
    assert found["status"] == "closed"
    entries = by_client_id(sim, cid)
    assert len(entries) == 1
    assert entries[0]["order_id"] == found["id"]


@pytest.mark.parametrize("name", VENUES)
def test_a_dropped_connection_after_executing_is_exchange_not_available(sim, name, new_client_id):
    cid = new_client_id()
    sim.control("faults", {"kind": "drop", "exchange": name})
    with raises_exactly(ccxt.ExchangeNotAvailable):
        run(
            using(
                client(sim, name),
                lambda e: e.create_order(SPOT, "market", "buy", 0.01, None, {"clientOrderId": cid}),
            )
        )
    assert len(by_client_id(sim, cid)) == 1
    found = run(using(client(sim, name), lambda e: lookup_by_client_id(e, SPOT, cid)))
    assert found["clientOrderId"] == cid


@pytest.mark.parametrize("name", VENUES)
def test_a_skewed_clock_is_an_invalid_nonce_until_ccxt_resyncs(sim, name):
    sim.control("clock", {"skew_ms": 120_000})

    async def scenario(exchange):
        with raises_exactly(ccxt.InvalidNonce):
            await exchange.fetch_balance()
        await exchange.load_time_difference()  # what an adapter does on InvalidNonce
        return await exchange.fetch_balance()

    balance = run(using(client(sim, name), scenario))
    assert balance["USDT"]["total"] == 10000


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_a_revoked_key_is_an_authentication_error(sim, name):
    async def scenario(exchange):
        await exchange.fetch_balance()
        sim.control("keys/revoke", {"api_key": exchange.apiKey})
        with raises_exactly(ccxt.AuthenticationError):
            await exchange.create_order(SPOT, "market", "buy", 0.01)
        sim.control("keys/restore", {"api_key": exchange.apiKey})
        return await exchange.fetch_balance()

    assert run(using(client(sim, name), scenario))["USDT"]["total"] == 10000


def test_binance_revoked_key_on_a_fresh_instance_is_an_authentication_error(sim):
    sim.control("keys/revoke", {"api_key": KEYS["binance"]["api_key"]})
    with raises_exactly(ccxt.AuthenticationError, match="-2015"):
        run(using(client(sim, "binance"), lambda e: e.fetch_balance()))


def test_binance_key_revoked_between_two_calls_looks_like_rate_limiting(sim):
    """The trap: after one successful private call ccxt turns -2015 into DDoSProtection."""

    async def scenario(exchange):
        await exchange.fetch_balance()
        sim.control("keys/revoke", {"api_key": exchange.apiKey})
        await exchange.create_order(SPOT, "market", "buy", 0.01)

    with raises_exactly(ccxt.DDoSProtection, match="-2015"):
        run(using(client(sim, "binance"), scenario))


def test_reset_restores_revoked_keys_faults_and_balances(sim):
    run(using(client(sim, "okx"), lambda e: e.create_order(SPOT, "market", "buy", 0.01)))
    sim.control("keys/revoke", {"api_key": KEYS["okx"]["api_key"]})
    sim.control("faults", {"kind": "unavailable", "count": 3})
    sim.control("reset")
    balance = run(using(client(sim, "okx"), lambda e: e.fetch_balance()))
    assert balance["BTC"]["total"] == 1
    assert sim.control("faults", {"reset": True}) == {"armed": [], "clock_skew_ms": 0}


def test_a_malformed_fault_is_refused(sim):
    import httpx

    answer = httpx.post(f"{sim.url}/_sim/faults", json={"kind": "meteor"}, timeout=5)
    assert answer.status_code == 400
    assert "kind must be one of" in answer.json()["error"]
