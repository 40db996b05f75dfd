"""Coinbase accounts through the real flow, queue and journal, the worker's exchange adapter
and real ccxt over HTTP against the simulated exchange (which verifies every JWT).

Verify with a good key, a wrong key and a transfer-enabled key; market and limit orders and
a cancel; an order whose answer is held or dropped after it executed is looked up by its
client order id and never sent twice; and the private key is nowhere: not in a job row,
a journal row, an account row, nor a log line.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from psycopg import Connection

from switchyard.domain import EXCHANGE_VENUES, client_order_id
from switchyard.sim.exchange.server import SimExchangeProcess
from switchyard.tokens import ensure_user
from switchyard.vault import Vault
from tests.worker import exchange_helpers
from worker.leases import LeaseClock
from worker.outcome import Failed, Retry, Succeeded
from worker.queue import JobQueue
from worker.trading.dispatch import Flow
from worker.venues.exchange.adapter import ExchangeVenue

SYMBOL = "BTC/USDT"


@pytest.fixture
def sim() -> SimExchangeProcess:
    return exchange_helpers.fresh(exchange_helpers.simulator())


@pytest.fixture
def venue(sim: SimExchangeProcess, vault: Vault) -> Iterator[ExchangeVenue]:
    with exchange_helpers.exchange_venue(sim, vault, timeout_s=2.0) as built:
        yield built


Make = Callable[..., uuid.UUID]


@pytest.fixture
def coinbase_account(db: Connection, vault: Vault) -> Make:
    """A Coinbase account row for test key `name`, its key set sealed as the functions do."""

    def make(name: str = "coinbase", *, status: str = "verified", **secret: str) -> uuid.UUID:
        user_id = ensure_user(db, f"{name}-{uuid.uuid4().hex[:6]}@example.com")
        row = db.execute(
            "insert into public.accounts (user_id, kind, venue, name, login, environment,"
            " api_key_masked, status, verified_at) values (%s, 'exchange', 'coinbase',"
            " 'Coinbase', %s, 'live', 'orga…test', %s, case when %s = 'verified' then now()"
            " end) returning id",
            (user_id, f"sha256:{uuid.uuid4().hex}", status, status),
        ).fetchone()
        assert row is not None
        sealed = vault.seal(row["id"], exchange_helpers.secrets_of(name) | secret)
        db.execute(
            "insert into private.account_secrets (account_id, ciphertext, key_id)"
            " values (%s, %s, %s)",
            (row["id"], sealed.ciphertext, sealed.key_id),
        )
        return uuid.UUID(str(row["id"]))

    return make


@pytest.fixture
def run_job(db: Connection, venue: ExchangeVenue) -> Callable[..., Any]:
    """Queue a job for an account and run one attempt of it through the real flow."""
    flow = Flow(venue, verify_interval_s=60, on_verified=lambda: None)
    queue = JobQueue(db, f"coinbase-{uuid.uuid4().hex[:6]}", 30)
    lease = LeaseClock("coinbase job")
    lease.renewed(60)

    def run(account_id: uuid.UUID, kind: str, payload: dict[str, Any] | None = None) -> Any:
        if kind:
            user = db.execute(
                "select user_id from public.accounts where id = %s", (account_id,)
            ).fetchone()
            assert user is not None
            db.execute(
                "insert into public.jobs (user_id, account_id, kind, payload)"
                " values (%s, %s, %s, %s::jsonb)",
                (user["user_id"], account_id, kind, _json(payload or {})),
            )
        job = queue.claim(EXCHANGE_VENUES)
        assert job is not None
        outcome = flow.handle(db, job, lease)
        if isinstance(outcome, Succeeded):  # ended as the lane ends it
            queue.complete(job.id, outcome.result)
        elif isinstance(outcome, Failed):
            queue.fail(job.id, outcome.error)
        return queue, job, outcome

    return run


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value)


def _account(db: Connection, account_id: uuid.UUID) -> dict[str, Any]:
    row = db.execute(
        "select status, status_reason, permissions from public.accounts where id = %s",
        (account_id,),
    ).fetchone()
    assert row is not None
    return dict(row)


def test_verify_with_a_good_key_stores_its_permissions(db, coinbase_account, run_job):
    account_id = coinbase_account(status="pending")
    _, _, outcome = run_job(account_id, "verify")
    assert isinstance(outcome, Succeeded), outcome
    account = _account(db, account_id)
    assert account["status"] == "verified"
    granted = account["permissions"]
    assert (granted["read"], granted["trade"], granted["withdraw"]) == (True, True, False)
    assert granted["ip_restricted"] is None  # Coinbase does not say


def test_verify_with_a_wrong_key_fails_the_account(db, coinbase_account, run_job):
    account_id = coinbase_account(
        status="pending", api_secret=exchange_helpers.wrong_secret("coinbase")
    )
    _, _, outcome = run_job(account_id, "verify")
    assert isinstance(outcome, Failed), outcome
    assert outcome.error.code.value == "credentials_rejected"
    assert "401" in outcome.error.message
    assert _account(db, account_id)["status"] == "failed"


def test_a_key_that_can_transfer_funds_is_refused_like_a_withdraw_key(
    db, coinbase_account, run_job
):
    account_id = coinbase_account("coinbase-withdraw", status="pending")
    _, _, outcome = run_job(account_id, "verify")
    assert isinstance(outcome, Failed), outcome
    assert outcome.error.code.value == "credentials_rejected"
    assert "may withdraw funds" in outcome.error.message
    assert "'Transfer' unticked" in outcome.error.message
    assert _account(db, account_id)["status"] == "failed"


def test_a_market_order_is_sent_once_with_the_jobs_client_order_id(
    db, sim, coinbase_account, run_job
):
    account_id = coinbase_account()
    before = len(sim.ledger())
    _, job, outcome = run_job(account_id, "order", {"symbol": SYMBOL, "side": "buy",
                                                    "volume": "0.01"})  # fmt: skip
    assert isinstance(outcome, Succeeded), outcome
    assert outcome.result["status"] == "filled"
    fills = [e for e in sim.ledger()[before:] if e["exchange"] == "coinbase"]
    assert [e["client_order_id"] for e in fills] == [client_order_id(job.id)]
    # Sized in base currency (base_size), not ccxt's quote_size: exactly the volume.
    assert fills[0]["amount"] == "0.01"


def test_a_limit_order_rests_and_is_cancelled(db, sim, coinbase_account, run_job):
    account_id = coinbase_account()
    before = len(sim.ledger())
    _, _, placed = run_job(account_id, "order", {"symbol": SYMBOL, "side": "buy",
                                                 "volume": "0.01", "type": "limit",
                                                 "price": "30000"})  # fmt: skip
    assert isinstance(placed, Succeeded), placed
    assert placed.result["status"] == "placed"
    order = placed.result["order"]
    _, _, cancelled = run_job(account_id, "cancel", {"order": order})
    assert isinstance(cancelled, Succeeded), cancelled
    assert cancelled.result["status"] == "cancelled"
    assert sim.ledger()[before:] == []  # it never filled


def test_a_limit_order_that_fills_at_once_is_reported_filled(db, sim, coinbase_account, run_job):
    account_id = coinbase_account()
    _, job, outcome = run_job(account_id, "order", {"symbol": SYMBOL, "side": "buy",
                                                    "volume": "0.01", "type": "limit",
                                                    "price": "66000"})  # fmt: skip
    assert isinstance(outcome, Succeeded), outcome
    assert (outcome.result["status"], outcome.result["volume"]) == ("filled", "0.01")
    assert [e["client_order_id"] for e in sim.ledger()[-1:]] == [client_order_id(job.id)]


@pytest.mark.parametrize("fault", ["hold", "drop"])
def test_an_order_whose_answer_is_lost_is_looked_up_and_never_sent_twice(
    db, sim, coinbase_account, run_job, fault
):
    account_id = coinbase_account()
    before = len(sim.ledger())
    sim.control("faults", {"kind": fault, "exchange": "coinbase", "hold_s": 5})
    queue, job, first = run_job(account_id, "order", {"symbol": SYMBOL, "side": "buy",
                                                      "volume": "0.01"})  # fmt: skip
    assert isinstance(first, Retry), first
    assert first.ambiguous
    assert queue.retry(job.id, first.error, delay_s=0)
    _, again, second = run_job(account_id, "", None)
    assert again.id == job.id
    assert isinstance(second, Succeeded), second
    fills = [e for e in sim.ledger()[before:] if e["exchange"] == "coinbase"]
    assert [e["client_order_id"] for e in fills] == [client_order_id(job.id)]


def test_the_private_key_is_in_no_row_and_no_log_line(db, sim, coinbase_account, run_job, caplog):
    caplog.set_level(logging.DEBUG)
    good = coinbase_account()
    wrong_secret = exchange_helpers.wrong_secret("coinbase")
    wrong = coinbase_account(status="pending", api_secret=wrong_secret)
    sim.control("faults", {"kind": "hold", "exchange": "coinbase", "hold_s": 5})
    run_job(good, "order", {"symbol": SYMBOL, "side": "buy", "volume": "0.01"})
    run_job(wrong, "verify")
    rows = [
        *db.execute("select * from public.jobs"),
        *db.execute("select * from public.orders"),
        *db.execute("select * from public.accounts"),
        *db.execute("select * from public.audit_log"),
    ]
    text = repr(rows) + caplog.text
    for secret in (exchange_helpers.KEYS["coinbase"]["api_secret"], wrong_secret):
        for line in secret.splitlines()[1:-1]:  # the key's base64 body
            assert line not in text
    assert exchange_helpers.KEYS["coinbase"]["api_key"] not in text


def test_a_skewed_worker_clock_is_refused_by_coinbase_and_nothing_is_sent(
    db, sim, coinbase_account, run_job
):
    """Coinbase's JWT is stamped (nbf, exp) with the worker's clock, which ccxt uses as it
    is: a clock off by more than the token's 120 s is refused like a bad key. The adapter
    then reads Coinbase's time: the job is retried with the clock named as the reason, the
    account is not disabled, nothing is sent."""
    account_id = coinbase_account()
    before = len(sim.ledger())
    sim.control("clock", {"skew_ms": 180_000})
    try:
        queue, job, outcome = run_job(account_id, "order", {"symbol": SYMBOL, "side": "buy",
                                                            "volume": "0.01"})  # fmt: skip
    finally:
        sim.control("clock", {"skew_ms": 0})
    assert isinstance(outcome, Retry), outcome
    assert not outcome.ambiguous
    # about -180 s (the check's own request takes a moment)
    assert re.search(r"the worker's clock is -1[78]\d s off", outcome.error.message)
    assert _account(db, account_id)["status"] == "verified"
    assert sim.ledger()[before:] == []
    assert queue.retry(job.id, outcome.error, delay_s=0)
    _, _, again = run_job(account_id, "", None)  # the clock is right again
    assert isinstance(again, Succeeded), again
    assert [e["client_order_id"] for e in sim.ledger()[before:]] == [client_order_id(job.id)]
