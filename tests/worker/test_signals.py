"""Signals on a real worker and simulated venues: one alert, every subscriber's own account,
each executed exactly once and sized by its own settings against its own balance.

The alert goes in exactly as the webhook hands it over (`api_receive_signal`, as the
functions' login role). `VENUES` lists the venues the fan-out case runs on (MT5 through the
simulated terminal, spot accounts on the simulated exchange through real ccxt); one more
test sends one alert to subscribers on both at once, served by one worker.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from switchyard.db import Connection, connect
from switchyard.domain import client_order_id
from switchyard.queries import queries
from switchyard.sim.exchange.instruments import Kind, listed
from switchyard.tokens import ensure_user
from tests.worker.exchange_helpers import (
    BALANCES,
    KEYS,
    store_account,
    worker_fields,
)
from tests.worker.helpers import (
    SIM_ACCOUNTS,
    running,
    sim_state,
    spawn_worker,
    stop_worker,
    wait_jobs,
)

SECRET = "sysig_test-secret"


@dataclass(frozen=True)
class Channel:
    id: uuid.UUID
    owner: uuid.UUID


def make_channel(db: Connection) -> Channel:
    owner = ensure_user(db, f"owner-{uuid.uuid4().hex[:6]}@example.com")
    row = db.execute(
        "insert into public.signal_channels (user_id, name, public) values (%s, 'Gold', true) "
        "returning id",
        (owner,),
    ).fetchone()
    assert row is not None
    db.execute(
        "insert into private.signal_channel_secrets (channel_id, secret_hash) values (%s, %s)",
        (row["id"], hashlib.sha256(SECRET.encode()).digest()),
    )
    return Channel(id=row["id"], owner=owner)


def subscribe(db: Connection, channel: Channel, account: Any, sizing: dict[str, Any],
              symbols: dict[str, str], **settings: Any) -> uuid.UUID:  # fmt: skip
    columns = ["user_id", "channel_id", "account_id", "sizing", "symbols", *settings]
    values = [account.user_id, channel.id, account.id, Jsonb(sizing), Jsonb(symbols)]
    row = db.execute(
        f"insert into public.signal_subscriptions ({', '.join(columns)}) "
        f"values ({', '.join(['%s'] * len(columns))}) returning id",
        [*values, *settings.values()],
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def deliver(functions_db_url: str, channel: Channel, **alert: Any) -> dict[str, Any]:
    """The webhook's one call, as the functions' login role makes it."""
    fields = {"action": "buy", "symbol": "EURUSD", **alert}
    with connect(functions_db_url, autocommit=True) as conn, conn.transaction():
        row = conn.execute(
            queries["api_receive_signal"],
            {
                "channel_id": channel.id,
                "secret_hash": hashlib.sha256(SECRET.encode()).digest(),
                "alert": json.dumps(fields),
                "body_hash": hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).digest(),
                "ttl_s": 60,
                "replay_window_s": 60,
                "limit": 1000,
            },
        ).fetchone()
    assert row is not None
    return dict(row)


def jobs_of(db: Connection, signal_only: bool = True) -> list[dict[str, Any]]:
    kinds = ("signal",) if signal_only else ("signal", "close", "cancel")
    return db.execute(
        "select * from public.jobs where kind = any(%s) order by created_at, id", (list(kinds),)
    ).fetchall()


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


@dataclass(frozen=True)
class Subscriber:
    """One subscribed account and how its venue names it in its own record of what it
    executed (the MT5 journal's login, the exchange ledger's API key)."""

    account: Any
    owner: str
    sizing: dict[str, Any]
    settings: dict[str, Any]
    #: The symbol's volume step on the venue (lots, base currency on spot).
    step: Decimal
    #: The account's balance in its currency when the job runs.
    balance: Decimal
    #: What one unit of volume is worth per unit of price, in the account's currency
    #: (a EURUSD lot: 100,000; BTCUSD on MT5 and BTC/USDT spot: 1).
    unit: Decimal
    #: Whether the venue trades the symbol on margin (the subscription's leverage applies).
    margined: bool


@dataclass
class VenueCase:
    """A venue's subscribers, the alert's symbol mapped for them, the running worker."""

    name: str
    subscribers: list[Subscriber]
    symbols: dict[str, str]
    alert_symbol: str
    run: Callable[[], Any]
    #: {"owner", "comment" (the client order id), "volume"} per order the venue executed.
    executed: Callable[[], list[dict[str, Any]]]


def mt5_executed(sim: Any) -> list[dict[str, Any]]:
    return [
        {"owner": str(e["login"]), "comment": e["comment"], "volume": Decimal(str(e["volume"]))}
        for e in sim.journal()
    ]


def exchange_executed(xsim: Any, after: int) -> list[dict[str, Any]]:
    return [
        {"owner": e["api_key"], "comment": e["client_order_id"], "volume": Decimal(e["amount"])}
        for e in xsim.ledger()[after:]
    ]


def mt5_subscriber(account: Any, sizing: dict[str, Any], unit: int = 100_000,
                   **settings: Any) -> Subscriber:  # fmt: skip
    return Subscriber(
        account=account,
        owner=str(account.login),
        sizing=sizing,
        settings=settings,
        step=Decimal("0.01"),
        balance=Decimal(100_000),  # SIM_ACCOUNTS' balance
        unit=Decimal(unit),
        margined=True,
    )


def spot_subscriber(db: Connection, vault: Any, key: str, sizing: dict[str, Any],
                    **settings: Any) -> Subscriber:  # fmt: skip
    """A spot account on the simulated exchange (10,000 USDT), trading BTC/USDT."""
    exchange = KEYS[key]["exchange"]
    [instrument] = [i for i in listed(exchange, Kind.SPOT) if (i.base, i.quote) == ("BTC", "USDT")]
    return Subscriber(
        account=store_account(db, vault, key),
        owner=KEYS[key]["api_key"],
        sizing=sizing,
        settings=settings,
        step=instrument.step,
        balance=Decimal(BALANCES["USDT"]),
        unit=Decimal(1),
        margined=False,
    )


@pytest.fixture
def mt5_case(sim, make_account, worker_settings) -> VenueCase:
    fixed, by_balance, by_risk = (make_account(SIM_ACCOUNTS[i]) for i in (0, 1, 2))
    return VenueCase(
        name="mt5",
        subscribers=[
            mt5_subscriber(fixed, {"mode": "fixed", "volume": "0.03"}),
            mt5_subscriber(by_balance, {"mode": "balance_pct", "percent": "2"}, leverage=10),
            mt5_subscriber(by_risk, {"mode": "risk_pct", "percent": "1"}, sl_pct="0.5"),
        ],
        symbols={"FX:EURUSD": "EURUSD"},
        alert_symbol="FX:EURUSD",
        run=lambda: running(worker_settings(sim)),
        executed=lambda: mt5_executed(sim),
    )


@pytest.fixture
def exchange_case(db, vault, xsim, worker_settings) -> VenueCase:
    """Spot accounts on two exchanges (no stops on exchange orders, so no risk_pct). The
    leverage of the OKX subscription must not multiply a spot purchase."""
    after = len(xsim.ledger())
    return VenueCase(
        name="exchange",
        subscribers=[
            spot_subscriber(db, vault, "bybit", {"mode": "fixed", "volume": "0.0123"}),
            spot_subscriber(db, vault, "okx", {"mode": "balance_pct", "percent": "2"}, leverage=10),
            spot_subscriber(db, vault, "bybit-other", {"mode": "balance_pct", "percent": "5"}),
        ],
        symbols={"BINANCE:BTCUSDT": "BTC/USDT"},
        alert_symbol="BINANCE:BTCUSDT",
        run=lambda: running(worker_settings(**worker_fields(xsim))),
        executed=lambda: exchange_executed(xsim, after),
    )


#: The venues the fan-out runs on.
VENUES = ["mt5_case", "exchange_case"]


def fan_out_and_run(db: Connection, functions_db_url: str, case: VenueCase,
                    alert_id: str) -> dict[uuid.UUID, dict[str, Any]]:  # fmt: skip
    """Subscribe the case's accounts to a new channel, deliver one alert (and, while the
    worker runs, the same alert again), and wait for every job."""
    channel = make_channel(db)
    for sub in case.subscribers:
        subscribe(db, channel, sub.account, sub.sizing, case.symbols, **sub.settings)
    answer = deliver(functions_db_url, channel, symbol=case.alert_symbol, id=alert_id)
    queued = len(case.subscribers)
    assert (answer["outcome"], answer["queued"], answer["skipped"]) == ("accepted", queued, 0)
    with case.run():
        done = wait_jobs(db, [j["id"] for j in jobs_of(db)], timeout_s=60)
        # delivered again while the worker runs: nothing more is queued, nothing re-sent
        again = deliver(functions_db_url, channel, symbol=case.alert_symbol, id=alert_id)
    assert again["outcome"] == "replayed"
    assert all(row["status"] == "succeeded" for row in done.values()), done
    assert len(jobs_of(db)) == queued
    return done


def assert_once_on_its_owners_account(db: Connection, case: VenueCase,
                                      done: dict[uuid.UUID, dict[str, Any]]) -> None:  # fmt: skip
    """Each subscriber's job executed exactly once, on its own account, sized by its own
    settings against its own balance and the venue's rules for the symbol."""
    jobs = {str(j["account_id"]): j for j in jobs_of(db)}
    executed = case.executed()
    # exactly one order per subscriber, in its owner's name, carrying its own job's coid
    assert sorted(e["owner"] for e in executed) == sorted(s.owner for s in case.subscribers)
    assert len({e["comment"] for e in executed}) == len(executed)
    for sub in case.subscribers:
        job = jobs[str(sub.account.id)]
        assert job["user_id"] == sub.account.user_id
        [sent] = [e for e in executed if e["owner"] == sub.owner]
        assert sent["comment"] == client_order_id(job["id"])
        orders = db.execute(
            "select user_id, account_id, symbol, volume from public.orders where job_id = %s",
            (job["id"],),
        ).fetchall()
        assert [(r["user_id"], r["account_id"]) for r in orders] == [
            (sub.account.user_id, sub.account.id)
        ]
        assert orders[0]["symbol"] == case.symbols[case.alert_symbol]
        result = done[job["id"]]["result"]
        sized = result["sizing"]
        assert sized["mode"] == sub.sizing["mode"]
        assert Decimal(sized["balance"]) == sub.balance
        assert Decimal(sized["volume"]) == sent["volume"] == Decimal(str(orders[0]["volume"]))
        volume, price = sent["volume"], Decimal(result["price"])
        if sub.sizing["mode"] == "fixed":
            assert volume == floor_to(Decimal(sub.sizing["volume"]), sub.step)
            continue
        assert volume == floor_to(Decimal(sized["raw"]), sub.step)
        assert volume > 0
        if sub.sizing["mode"] == "balance_pct":
            leverage = sub.settings.get("leverage", 1) if sub.margined else 1
            assert sized["leverage"] == str(leverage)
            money = sub.balance * Decimal(sub.sizing["percent"]) / 100 * leverage
            raw = money / (price * sub.unit)
            assert abs(Decimal(sized["raw"]) - raw) < raw * Decimal("0.002")
        else:
            assert sub.sizing["mode"] == "risk_pct"
            # percent of the balance lost at a stop sl_pct away
            risk = sub.balance * Decimal(sub.sizing["percent"]) / 100
            distance = Decimal(sub.settings["sl_pct"]) / 100 * price
            expected = risk / (distance * sub.unit)
            assert abs(volume - expected) <= sub.step + expected * Decimal("0.002")
            stops = db.execute(
                "select sl from public.orders where account_id = %s", (sub.account.id,)
            ).fetchone()
            assert stops["sl"] is not None
            assert stops["sl"] < price


@pytest.mark.parametrize("case_name", VENUES)
def test_one_alert_is_executed_once_on_each_subscribers_own_account(
    request, db, functions_db_url, case_name
):
    case: VenueCase = request.getfixturevalue(case_name)
    done = fan_out_and_run(db, functions_db_url, case, alert_id=f"{case.name}-1")
    assert_once_on_its_owners_account(db, case, done)


def test_one_alert_reaches_an_mt5_and_exchange_subscribers_each_once_on_their_own_account(
    db, functions_db_url, sim, make_account, vault, xsim, worker_settings
):
    """TradingView's BTCUSDT: BTCUSD on an MT5 account (a CFD of 1 BTC a lot, on margin),
    BTC/USDT on a Bybit and an OKX spot account. One worker serves both venues."""
    after = len(xsim.ledger())
    symbols = {"BTCUSDT": "BTC/USDT"}
    mt5 = mt5_subscriber(
        make_account(SIM_ACCOUNTS[7]), {"mode": "balance_pct", "percent": "2"}, unit=1,
        leverage=10,
    )  # fmt: skip
    subscribers = [
        mt5,
        spot_subscriber(db, vault, "bybit", {"mode": "fixed", "volume": "0.002"}),
        spot_subscriber(db, vault, "okx", {"mode": "balance_pct", "percent": "2"}, leverage=10),
    ]
    channel = make_channel(db)
    for sub in subscribers:
        mapped = {"BTCUSDT": "BTCUSD"} if sub is mt5 else symbols
        subscribe(db, channel, sub.account, sub.sizing, mapped, **sub.settings)
    answer = deliver(functions_db_url, channel, symbol="BTCUSDT", id="both-1")
    assert (answer["outcome"], answer["queued"], answer["skipped"]) == ("accepted", 3, 0)
    with running(worker_settings(sim, **worker_fields(xsim))):
        done = wait_jobs(db, [j["id"] for j in jobs_of(db)], timeout_s=60)
        assert deliver(functions_db_url, channel, symbol="BTCUSDT", id="both-1")["outcome"] == (
            "replayed"
        )
    assert all(row["status"] == "succeeded" for row in done.values()), done
    # the MT5 terminal sent only the MT5 subscriber's order, the exchange filled only the
    # exchange subscribers' — each once, in its owner's name, sized by its own settings
    on_mt5 = VenueCase(
        "mt5", [mt5], {"BTCUSDT": "BTCUSD"}, "BTCUSDT", running, lambda: mt5_executed(sim)
    )
    on_exchange = VenueCase(
        "exchange",
        subscribers[1:],
        symbols,
        "BTCUSDT",
        running,
        lambda: exchange_executed(xsim, after),
    )
    assert_once_on_its_owners_account(db, on_mt5, done)
    assert_once_on_its_owners_account(db, on_exchange, done)
    # the same 2% and the same leverage setting: ten times as much BTC on margin as on
    # spot, where the leverage does not apply (the venues' prices differ a little)
    [mt5_order] = mt5_executed(sim)
    [okx_fill] = [e for e in on_exchange.executed() if e["owner"] == KEYS["okx"]["api_key"]]
    ratio = (mt5_order["volume"] / mt5.balance) / (okx_fill["volume"] / subscribers[2].balance)
    assert Decimal(9) < ratio < Decimal(11), ratio


def test_a_position_a_signal_opens_is_in_the_journal_before_any_sync(
    db, functions_db_url, sim, make_account, worker_settings
):
    """As after any trade: the account is read again in the same session, so
    GET /v1/positions and the fan-out's max_open_positions see it at once."""
    account = make_account(SIM_ACCOUNTS[4])
    channel = make_channel(db)
    subscribe(db, channel, account, {"mode": "fixed", "volume": "0.02"}, {"EURUSD": "EURUSD"})
    deliver(functions_db_url, channel)
    with running(worker_settings(sim)):
        [row] = wait_jobs(db, [j["id"] for j in jobs_of(db)]).values()
    assert row["status"] == "succeeded", row
    syncs = db.execute(
        "select count(*) as n from public.jobs where account_id = %s and kind = 'sync'",
        (account.id,),
    ).fetchone()
    assert syncs["n"] == 0
    [position] = db.execute(
        "select venue_position_id, symbol, volume from public.positions where account_id = %s",
        (account.id,),
    ).fetchall()
    assert (position["symbol"], float(position["volume"])) == ("EURUSD", 0.02)
    assert position["venue_position_id"] == row["result"]["position"]
    deal = db.execute(
        "select symbol from public.deals where account_id = %s and venue_deal_id = %s",
        (account.id, row["result"]["deal"]),
    ).fetchone()
    assert deal is not None
    assert deal["symbol"] == "EURUSD"


def test_a_size_below_the_venues_minimum_fails_and_sends_nothing(
    db, functions_db_url, sim, make_account, worker_settings
):
    poor = make_account(SIM_ACCOUNTS[20])  # 50 USD
    channel = make_channel(db)
    subscribe(db, channel, poor, {"mode": "balance_pct", "percent": "2"}, {"EURUSD": "EURUSD"})
    deliver(functions_db_url, channel)
    with running(worker_settings(sim)):
        [row] = wait_jobs(db, [j["id"] for j in jobs_of(db)]).values()
    assert row["status"] == "failed"
    assert row["error"]["code"] == "invalid_volume"
    message = row["error"]["message"]
    assert "below the minimum of 0.01" in message
    assert "never rounded up" in message
    assert sim.journal() == []


def test_max_open_positions_is_checked_against_the_venue_when_the_job_runs(
    db, functions_db_url, sim, make_account, enqueue, worker_settings
):
    account = make_account(SIM_ACCOUNTS[3])
    channel = make_channel(db)
    subscribe(
        db, channel, account, {"mode": "fixed", "volume": "0.01"}, {"EURUSD": "EURUSD"},
        max_open_positions=1,
    )  # fmt: skip
    first = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.01"})
    with running(worker_settings(sim)):
        wait_jobs(db, [first])
        # the worker stored the position right after the trade: the fan-out skips it
        assert deliver(functions_db_url, channel, id="first")["skipped"] == 1
        assert jobs_of(db) == []
        # a position the database does not know (opened in the terminal itself, say, and
        # no sync since): the fan-out queues the job, and the venue's count decides
        db.execute("delete from public.positions where account_id = %s", (account.id,))
        assert deliver(functions_db_url, channel, id="second")["queued"] == 1
        [row] = wait_jobs(db, [j["id"] for j in jobs_of(db)]).values()
    assert row["status"] == "failed"
    assert row["error"]["code"] == "risk_limit"
    assert "max_open_positions is 1" in row["error"]["message"]
    assert len(sim.journal()) == 1


def test_close_long_queues_one_close_per_long_position_and_closes_each_once(
    db, functions_db_url, sim, make_account, enqueue, worker_settings
):
    account = make_account(SIM_ACCOUNTS[4])
    channel = make_channel(db)
    subscription = subscribe(
        db, channel, account, {"mode": "fixed", "volume": "0.01"}, {"EURUSD": "EURUSD"}
    )
    opened = [
        enqueue(account, "order", {"symbol": "EURUSD", "side": side, "volume": "0.02"})
        for side in ("buy", "buy", "sell")
    ]
    with running(worker_settings(sim)):
        wait_jobs(db, opened)
        deliver(functions_db_url, channel, action="close_long")
        [parent] = wait_jobs(db, [j["id"] for j in jobs_of(db)]).values()
        closes = [uuid.UUID(i) for i in parent["result"]["queued"]]
        done = wait_jobs(db, closes)
    assert parent["status"] == "succeeded", parent
    assert len(closes) == 2
    assert {r["kind"] for r in done.values()} == {"close"}
    assert all(r["status"] == "succeeded" for r in done.values()), done
    children = db.execute(
        "select signal_id, subscription_id from public.jobs where id = any(%s)", (closes,)
    ).fetchall()
    assert {r["subscription_id"] for r in children} == {subscription}
    [book] = [a for a in sim_state(sim)["accounts"] if a["login"] == SIM_ACCOUNTS[4]["login"]]
    assert len(book["positions"]) == 1  # the short one is left open


def test_a_worker_killed_right_after_sending_a_signal_order_never_sends_it_twice(
    db, functions_db_url, start_sim, make_account, worker_settings, tmp_path
):
    sim = start_sim()
    accounts = [make_account(SIM_ACCOUNTS[i]) for i in (5, 6)]
    channel = make_channel(db)
    for account in accounts:
        subscribe(
            db, channel, account, {"mode": "balance_pct", "percent": "5"}, {"EURUSD": "EURUSD"}
        )
    deliver(functions_db_url, channel)
    jobs = [j["id"] for j in jobs_of(db)]
    settings = worker_settings(sim, worker_lease_s=4.5)
    log = tmp_path / "worker.log"
    crashing = spawn_worker(settings, log, SWITCHYARD_WORKER_CRASH_POINTS="after_send:1")
    assert crashing.wait(timeout=60) == -9, log.read_text()[-2000:]  # killed itself after a send
    assert len(sim.journal()) == 1
    clean = spawn_worker(settings, log)
    try:
        rows = wait_jobs(db, jobs, timeout_s=60)
    finally:
        stop_worker(clean)
    assert {r["status"] for r in rows.values()} == {"succeeded"}, rows
    sent = Counter(e["comment"] for e in sim.journal())
    assert sent == Counter({client_order_id(j): 1 for j in jobs})
    # the rescued job answered from the venue, with the volume sized before the crash
    assert all(Decimal(r["result"]["volume"]) > 0 for r in rows.values())
