"""Stop loss and take profit on Bybit and OKX perpetuals through the worker: sent with the
order that opens the position, reported on it, checked before anything is sent, refused
on spot and where they are not offered; a stop the price reaches closes the position at
the exchange, and a sync stores that closing fill with its profit. Real ccxt over HTTP
against the simulated exchange, the real database, the worker's own threads."""

from __future__ import annotations

import uuid
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

from switchyard.domain import client_order_id
from tests.worker.exchange_helpers import (
    exchange_venue,
    executed,
    fresh,
    simulator,
    store_account,
    worker_fields,
)
from tests.worker.helpers import running, wait_job
from tests.worker.test_signals import deliver, make_channel, subscribe

PERP = "BTC/USDT:USDT"
#: The perpetual's position id on each exchange (`swap-` and the exchange's market id).
POSITION = {"bybit": "swap-BTCUSDT", "okx": "swap-BTC-USDT-SWAP"}


@pytest.fixture
def xsim() -> Any:
    return fresh(simulator())


@pytest.fixture
def xsettings(worker_settings, xsim):
    def make(**overrides: Any) -> Any:
        return worker_settings(**worker_fields(xsim, **overrides))

    return make


def order(symbol: str = PERP, **fields: Any) -> dict[str, Any]:
    return {"symbol": symbol, "side": "buy", "volume": "0.01", **fields}


def stored_positions(db: Any, account: Any) -> list[dict[str, Any]]:
    return db.execute(
        "select symbol, side, volume, sl, tp from public.positions where account_id = %s",
        (account.id,),
    ).fetchall()


def journal_count(db: Any, account: Any) -> int:
    row = db.execute(
        "select count(*) as n from public.orders where account_id = %s", (account.id,)
    ).fetchone()
    return int(row["n"])


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_a_perpetual_order_with_stops_is_placed_once_and_its_position_reports_them(
    db, vault, enqueue, xsettings, xsim, name
):
    account = store_account(db, vault, name)
    start = len(xsim.ledger())
    job = enqueue(account, "order", order(sl="64000", tp="66500.5"))
    with running(xsettings()):
        row = wait_job(db, job)
        assert row["status"] == "succeeded", row
        synced = wait_job(db, enqueue(account, "sync"))
    assert synced["status"] == "succeeded", synced
    assert executed(xsim, name, start) == [client_order_id(job)]
    [position] = stored_positions(db, account)
    assert (position["symbol"], position["side"]) == (PERP, "buy")
    assert (position["sl"], position["tp"]) == (Decimal("64000"), Decimal("66500.5"))
    [journal] = db.execute(
        "select sl, tp from public.orders where account_id = %s", (account.id,)
    ).fetchall()
    assert (journal["sl"], journal["tp"]) == (Decimal("64000"), Decimal("66500.5"))


@pytest.mark.parametrize(
    ("name", "fields", "words"),
    [
        ("bybit", {"sl": "65500"}, "stop loss 65500 of a buy must be below"),
        ("okx", {"tp": "64000"}, "take profit 64000 of a buy must be above"),
        ("okx", {"side": "sell", "sl": "64000"}, "stop loss 64000 of a sell must be above"),
        ("bybit", {"sl": "64000.05"}, "in steps of 0.1"),
        ("bybit", {"type": "limit", "price": "60000", "tp": "59000"}, "must be above"),
    ],
)
def test_a_stop_on_the_wrong_side_or_off_the_grid_is_refused_before_anything_is_sent(
    db, vault, enqueue, xsettings, xsim, name, fields, words
):
    account = store_account(db, vault, name)
    start = len(xsim.ledger())
    with running(xsettings()):
        row = wait_job(db, enqueue(account, "order", order(**fields)))
    assert (row["status"], row["error"]["code"]) == ("failed", "invalid_stops"), row
    assert words in row["error"]["message"]
    assert xsim.ledger()[start:] == []
    assert journal_count(db, account) == 0


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("bybit", "BTC/USDT is a spot market"),
        ("okx", "BTC/USDT is a spot market"),
        ("binance", "BTC/USDT is a spot market"),
        ("coinbase", "BTC/USDT is a spot market"),
    ],
)
def test_stops_on_spot_are_refused_saying_where_they_are_offered(
    db, vault, enqueue, xsettings, xsim, name, words
):
    account = store_account(db, vault, name)
    start = len(xsim.ledger())
    with running(xsettings()):
        row = wait_job(db, enqueue(account, "order", order("BTC/USDT", sl="60000")))
    assert (row["status"], row["error"]["code"]) == ("failed", "invalid_stops"), row
    assert words in row["error"]["message"]
    assert "offered on Bybit and OKX USDT perpetuals" in row["error"]["message"]
    assert xsim.ledger()[start:] == []
    assert journal_count(db, account) == 0


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_a_stop_the_price_reaches_closes_the_position_and_a_sync_stores_its_profit(
    db, vault, enqueue, xsettings, xsim, name
):
    account = store_account(db, vault, name)
    start = len(xsim.ledger())
    with running(xsettings()):
        opened = wait_job(db, enqueue(account, "order", order(sl="64000", tp="67000")))
        assert opened["status"] == "succeeded", opened
        xsim.control("prices", {"BTC": "63950"})
        [closing] = [e for e in xsim.ledger()[start:] if e["trigger"]]
        synced = wait_job(db, enqueue(account, "sync"))
    assert synced["status"] == "succeeded", synced
    assert (closing["trigger"], closing["side"], closing["reduce_only"]) == ("sl", "sell", True)
    assert stored_positions(db, account) == []
    deals = db.execute(
        "select side, entry, volume, price, profit from public.deals where account_id = %s "
        "order by executed_at, price desc",
        (account.id,),
    ).fetchall()
    assert [(d["side"], d["entry"], d["volume"]) for d in deals] == [
        ("buy", "in", Decimal("0.01")),
        ("sell", "out", Decimal("0.01")),
    ]
    entry, exit_ = deals[0]["price"], deals[1]["price"]
    assert exit_ == Decimal(closing["price"])
    assert deals[1]["profit"] == (exit_ - entry) * Decimal("0.01")
    assert deals[1]["profit"] < 0


@pytest.mark.parametrize(("name", "prefix"), [("okx", "OKX"), ("bybit", "BYBIT")])
def test_a_risk_pct_signal_on_a_perpetual_is_sized_from_its_stop_and_opens_with_it(
    db, vault, enqueue, xsettings, xsim, functions_db_url, name, prefix
):
    """risk_pct 1 of 10,000 USDT with sl_pct 2: a stop 2% under the ask, so ~100 USDT at
    risk over a ~1,300 USDT distance per BTC; the position carries that stop and tp_pct's
    take profit."""
    account = store_account(db, vault, name)
    start = len(xsim.ledger())
    channel = make_channel(db)
    symbol = f"{prefix}:BTCUSDT.P"
    sizing = {"mode": "risk_pct", "percent": "1"}
    subscribe(db, channel, account, sizing, {symbol: PERP}, sl_pct=Decimal(2), tp_pct=Decimal(3))
    answer = deliver(functions_db_url, channel, symbol=symbol, id=uuid.uuid4().hex)
    assert answer["queued"] == 1, answer
    [job] = db.execute(
        "select id from public.jobs where kind = 'signal' and account_id = %s", (account.id,)
    ).fetchall()
    with running(xsettings()):
        row = wait_job(db, job["id"], timeout_s=60)
        synced = wait_job(db, enqueue(account, "sync"))
    assert row["status"] == "succeeded", row
    assert synced["status"] == "succeeded", synced
    assert executed(xsim, name, start) == [client_order_id(job["id"])]
    [journal] = db.execute(
        "select sl, tp, volume from public.orders where account_id = %s", (account.id,)
    ).fetchall()
    [position] = stored_positions(db, account)
    assert (position["sl"], position["tp"]) == (journal["sl"], journal["tp"])
    ask = Decimal("65003.3")  # 65000 + 1 basis point's half spread, on the 0.1 tick
    assert journal["sl"] == (ask * Decimal("0.98")).quantize(Decimal("0.1"))
    assert journal["tp"] == (ask * Decimal("1.03")).quantize(Decimal("0.1"))
    raw = Decimal(100) / (ask - journal["sl"])
    assert Decimal(row["result"]["sizing"]["raw"]) == raw
    step = Decimal("0.001")
    assert journal["volume"] == (raw / step).to_integral_value(ROUND_DOWN) * step


def test_a_signal_asking_for_stops_on_spot_fails_and_sends_nothing(
    db, vault, xsettings, xsim, functions_db_url
):
    account = store_account(db, vault, "bybit")
    start = len(xsim.ledger())
    channel = make_channel(db)
    sizing = {"mode": "fixed", "volume": "0.01"}
    subscribe(db, channel, account, sizing, {"BYBIT:BTCUSDT": "BTC/USDT"}, sl_pct=Decimal(2))
    deliver(functions_db_url, channel, symbol="BYBIT:BTCUSDT", id=uuid.uuid4().hex)
    [job] = db.execute("select id from public.jobs where kind = 'signal'").fetchall()
    with running(xsettings()):
        row = wait_job(db, job["id"], timeout_s=60)
    assert (row["status"], row["error"]["code"]) == ("failed", "invalid_stops"), row
    assert "cannot carry one on this account" in row["error"]["message"]
    assert xsim.ledger()[start:] == []


def okx_algos(xsim: Any, vault: Any, account: Any) -> list[dict[str, Any]]:
    """The account's pending OKX TP/SL algo orders, read with its own key."""
    with exchange_venue(xsim, vault) as venue, venue.on_account(account) as session:
        answer = session.read(
            lambda: session.exchange.private_get_trade_orders_algo_pending(
                {"instType": "SWAP", "ordType": "conditional,oco"}
            )
        )
    return list(answer["data"])


def modify_rows(db: Any, account: Any) -> list[tuple[str, Any, Any]]:
    rows = db.execute(
        "select status, sl, tp from public.orders where account_id = %s and action = 'modify'",
        (account.id,),
    ).fetchall()
    return [(r["status"], r["sl"], r["tp"]) for r in rows]


@pytest.mark.parametrize("name", ["bybit", "okx"])
def test_a_positions_stop_loss_is_changed_its_take_profit_kept_and_the_new_one_triggers(
    db, vault, enqueue, xsettings, xsim, name
):
    account = store_account(db, vault, name)
    with running(xsettings()):
        opened = wait_job(db, enqueue(account, "order", order(sl="64000", tp="66500")))
        assert opened["status"] == "succeeded", opened
        job = enqueue(account, "modify", {"position": POSITION[name], "sl": "64800"})
        modified = wait_job(db, job)
        again = wait_job(
            db, enqueue(account, "modify", {"position": POSITION[name], "sl": "64800"})
        )
        assert modified["status"] == "succeeded", modified
        assert again["status"] == "succeeded", again  # already as asked: nothing sent
        [position] = stored_positions(db, account)
        assert (position["sl"], position["tp"]) == (Decimal("64800"), Decimal("66500"))
        start = len(xsim.ledger())
        xsim.control("prices", {"BTC": "64700"})  # under the new stop loss, over the old one
        [closing] = [e for e in xsim.ledger()[start:] if e["trigger"]]
    assert (closing["trigger"], closing["side"], closing["reduce_only"]) == ("sl", "sell", True)
    assert modify_rows(db, account) == [("modified", Decimal("64800"), Decimal("66500"))]


def test_an_okx_position_without_stops_gets_them_as_one_algo_order_with_the_jobs_id(
    db, vault, enqueue, xsettings, xsim
):
    account = store_account(db, vault, "okx")
    with running(xsettings()):
        opened = wait_job(db, enqueue(account, "order", order()))
        assert opened["status"] == "succeeded", opened
        job = enqueue(
            account, "modify", {"position": POSITION["okx"], "sl": "64000", "tp": "66500"}
        )
        modified = wait_job(db, job)
        synced = wait_job(db, enqueue(account, "sync"))
    assert modified["status"] == "succeeded", modified
    assert synced["status"] == "succeeded", synced
    [position] = stored_positions(db, account)
    assert (position["sl"], position["tp"]) == (Decimal("64000"), Decimal("66500"))
    [algo] = okx_algos(xsim, vault, account)
    assert (algo["ordType"], algo["closeFraction"], algo["side"]) == ("oco", "1", "sell")
    assert algo["algoClOrdId"] == client_order_id(job)
    assert modify_rows(db, account) == [("modified", Decimal("64000"), Decimal("66500"))]


def test_an_okx_stop_change_whose_answer_is_lost_is_not_placed_twice(
    db, vault, enqueue, xsettings, xsim
):
    """The algo order is placed, its answer dropped: the retry finds the position's stops as
    asked and sends nothing more (a second order-algo would be refused, 51065 / 51088)."""
    account = store_account(db, vault, "okx")
    with running(xsettings()):
        opened = wait_job(db, enqueue(account, "order", order()))
        assert opened["status"] == "succeeded", opened
        xsim.control("faults", {"kind": "drop", "exchange": "okx", "count": 1})
        job = enqueue(account, "modify", {"position": POSITION["okx"], "sl": "64000"})
        modified = wait_job(db, job, timeout_s=60)
    assert modified["status"] == "succeeded", modified
    assert modified["attempts"] >= 2, modified  # the first attempt's answer was lost
    [algo] = okx_algos(xsim, vault, account)
    assert (algo["ordType"], algo["slTriggerPx"], algo["tpTriggerPx"]) == (
        "conditional",
        "64000",
        "",
    )
    assert algo["algoClOrdId"] == client_order_id(job)
    assert modify_rows(db, account) == [("modified", Decimal("64000"), None)]


def test_a_take_profit_is_not_added_to_an_okx_positions_stop_loss_order(
    db, vault, enqueue, xsettings, xsim
):
    account = store_account(db, vault, "okx")
    with running(xsettings()):
        opened = wait_job(db, enqueue(account, "order", order(sl="64000")))
        assert opened["status"] == "succeeded", opened
        row = wait_job(db, enqueue(account, "modify", {"position": POSITION["okx"], "tp": "66500"}))
    assert (row["status"], row["error"]["code"]) == ("failed", "invalid_stops"), row
    assert "a take profit cannot be added; nothing was sent" in row["error"]["message"]
    [algo] = okx_algos(xsim, vault, account)
    assert (algo["slTriggerPx"], algo["tpTriggerPx"]) == ("64000", "")
    assert modify_rows(db, account) == []


@pytest.mark.parametrize(
    ("name", "fields", "code", "words"),
    [
        ("bybit", {"sl": "65100"}, "invalid_stops", "must be below the price now"),
        ("bybit", {"tp": "66500.01"}, "invalid_stops", "in steps of 0.1"),
        ("okx", {"sl": "65100"}, "invalid_stops", "must be below the price now"),
        ("okx", {"tp": "64900"}, "invalid_stops", "must be above the price now"),
        ("okx", {"tp": "66500.01"}, "invalid_stops", "in steps of 0.1"),
    ],
)
def test_a_stop_change_that_cannot_be_made_is_refused_and_the_position_keeps_its_stops(
    db, vault, enqueue, xsettings, xsim, name, fields, code, words
):
    account = store_account(db, vault, name)
    with running(xsettings()):
        opened = wait_job(db, enqueue(account, "order", order(sl="64000", tp="66500")))
        assert opened["status"] == "succeeded", opened
        row = wait_job(db, enqueue(account, "modify", {"position": POSITION[name], **fields}))
        synced = wait_job(db, enqueue(account, "sync"))
    assert (row["status"], row["error"]["code"]) == ("failed", code), row
    assert words in row["error"]["message"]
    assert synced["status"] == "succeeded", synced
    [position] = stored_positions(db, account)
    assert (position["sl"], position["tp"]) == (Decimal("64000"), Decimal("66500"))
    assert modify_rows(db, account) == []  # refused before the journal: nothing sent
