"""A perpetual's leverage through the worker: set at the exchange once per job before its
order, never looked up as if it were an order, refused where it cannot be set — real ccxt
over HTTP against the simulated exchange (which counts its set-leverage requests), the
real database, the worker's own threads."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

from switchyard.domain import client_order_id
from tests.worker.exchange_helpers import (
    KEYS,
    executed,
    store_account,
)
from tests.worker.helpers import running, wait_job
from tests.worker.test_signals import deliver, make_channel, subscribe

PERP = "BTC/USDT:USDT"
#: The simulator's instrument id of BTC/USDT:USDT on each exchange.
MARKET_ID = {"bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP"}


def leverage_at(xsim: Any, name: str) -> dict[str, int] | None:
    """The simulator's leverage of key `name`'s BTC/USDT:USDT and how often it was asked to
    set it; None when it never was."""
    accounts = xsim.inspect("leverage")["accounts"]
    return accounts.get(f"{KEYS[name]['exchange']}:{name}", {}).get(MARKET_ID[name])


def order(leverage: Any, symbol: str = PERP) -> dict[str, Any]:
    return {"symbol": symbol, "side": "buy", "volume": "0.01", "leverage": leverage}


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_a_perpetual_order_sets_its_leverage_once_even_when_its_answer_is_lost(
    db, vault, enqueue, xsettings, xsim, name, caplog
):
    """The order's answer is held back until ccxt gives up (executed, answer lost): the
    retry finds it by its client order id, and neither sets the leverage again nor sends."""
    caplog.set_level(logging.INFO)
    account = store_account(db, vault, name)
    start = len(xsim.ledger())
    xsim.control("faults", {"kind": "hold", "exchange": name, "count": 1, "hold_s": 4})
    job = enqueue(account, "order", order(5))
    with running(xsettings()):
        row = wait_job(db, job, timeout_s=60)
    assert row["status"] == "succeeded", row
    assert row["attempts"] == 2  # the first one's answer was lost
    assert "found at the venue" in caplog.text
    assert executed(xsim, name, start) == [client_order_id(job)]
    assert leverage_at(xsim, name) == {"leverage": 5, "requests": 1}


def test_bybit_saying_the_leverage_is_not_modified_is_no_error(db, vault, enqueue, xsettings, xsim):
    """Bybit answers 110043 "Set leverage not modified" (ccxt: BadRequest) when it already
    is that value: the second order is sent as the first was."""
    account = store_account(db, vault, "bybit")
    start = len(xsim.ledger())
    with running(xsettings()):
        first = wait_job(db, enqueue(account, "order", order(7)))
        second = wait_job(db, enqueue(account, "order", order(7)))
    assert [first["status"], second["status"]] == ["succeeded", "succeeded"], second
    assert len(executed(xsim, "bybit", start)) == 2
    assert leverage_at(xsim, "bybit") == {"leverage": 7, "requests": 2}


def test_a_timed_out_leverage_sends_no_order_and_is_retried_not_looked_up(
    db, vault, enqueue, xsettings, xsim, caplog
):
    """Its answer held back until ccxt gives up: no order was sent, so there is nothing to
    look up — the journal says rejected, the job is retried, the leverage set again (Bybit:
    not modified, which is no error) and the order sent once."""
    caplog.set_level(logging.INFO)
    account = store_account(db, vault, "bybit")
    start = len(xsim.ledger())
    with running(xsettings()):
        # the account's session made (markets, permissions): the next request is the leverage
        warm = wait_job(db, enqueue(account, "order", order(None)))
        assert warm["status"] == "succeeded", warm
        xsim.control(
            "faults",
            {"kind": "hold", "exchange": "bybit", "count": 1, "hold_s": 4, "orders_only": False},
        )
        job = enqueue(account, "order", order(3))
        row = wait_job(db, job, timeout_s=60)
    assert row["status"] == "succeeded", row
    assert row["attempts"] == 2
    assert "it will be looked up" not in caplog.text
    assert "provably not executed" not in caplog.text
    assert f"client order id {client_order_id(job)} found" not in caplog.text
    assert Counter(executed(xsim, "bybit", start))[client_order_id(job)] == 1
    assert leverage_at(xsim, "bybit") == {"leverage": 3, "requests": 2}


def test_a_leverage_above_the_markets_maximum_is_refused_before_anything_is_sent(
    db, vault, enqueue, xsettings, xsim
):
    """Above the market's maximum (100 on the simulator's BTCUSDT): refused before anything
    is sent, with the limit in the message."""
    account = store_account(db, vault, "bybit")
    start = len(xsim.ledger())
    with running(xsettings()):
        row = wait_job(db, enqueue(account, "order", order(125)))
    assert (row["status"], row["error"]["code"]) == ("failed", "invalid_request"), row
    assert "leverage up to 100" in row["error"]["message"]
    assert executed(xsim, "bybit", start) == []
    assert leverage_at(xsim, "bybit") is None


@pytest.mark.parametrize("name", ["binance", "bybit", "okx", "coinbase"])
def test_leverage_on_a_spot_order_is_refused_and_nothing_is_sent(
    db, vault, enqueue, xsettings, xsim, name
):
    account = store_account(db, vault, name)
    start = len(xsim.ledger())
    with running(xsettings()):
        row = wait_job(db, enqueue(account, "order", order(3, symbol="BTC/USDT")))
    assert (row["status"], row["error"]["code"]) == ("failed", "invalid_request"), row
    assert "spot market" in row["error"]["message"]
    assert "leverage" in row["error"]["message"]
    assert executed(xsim, name, start) == []
    assert xsim.inspect("leverage")["accounts"] == {}
    journal = db.execute(
        "select count(*) as n from public.orders where account_id = %s", (account.id,)
    )
    assert journal.fetchone()["n"] == 0


def test_a_signal_on_a_perpetual_opens_the_position_at_the_subscriptions_leverage(
    db, vault, xsettings, xsim, functions_db_url
):
    """balance_pct 2 × leverage 5 of 10,000 USDT: a position worth ~1,000 USDT, with 5x at
    the exchange (the simulator's default is 10x), so the margin the sizing assumed."""
    account = store_account(db, vault, "okx")
    start = len(xsim.ledger())
    channel = make_channel(db)
    symbols = {"OKX:BTCUSDT.P": PERP}
    sizing = {"mode": "balance_pct", "percent": "2"}
    subscribe(db, channel, account, sizing, symbols, leverage=5)
    answer = deliver(functions_db_url, channel, symbol="OKX:BTCUSDT.P", id=uuid.uuid4().hex)
    assert answer["queued"] == 1, answer
    [job] = db.execute("select id from public.jobs where kind = 'signal'").fetchall()
    with running(xsettings()):
        row = wait_job(db, job["id"], timeout_s=60)
    assert row["status"] == "succeeded", row
    assert row["result"]["sizing"]["leverage"] == "5"
    raw, price = Decimal(row["result"]["sizing"]["raw"]), Decimal(row["result"]["price"])
    assert abs(raw - Decimal(1000) / price) < raw * Decimal("0.002")
    step = Decimal("0.001")  # 0.1 contract of 0.01 BTC
    assert Decimal(row["result"]["volume"]) == (raw / step).to_integral_value(ROUND_DOWN) * step
    assert executed(xsim, "okx", start) == [client_order_id(job["id"])]
    assert leverage_at(xsim, "okx") == {"leverage": 5, "requests": 1}
