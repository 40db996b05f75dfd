"""The trading flow takes a second adapter without a change: a paper venue behind
`worker.venue`, driven by the same `Flow` as MT5, on an exchange account's jobs.

The paper venue is a test double of a venue (like httpx's MockTransport), not of our
code: everything of the flow, the queue and the journal runs for real.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pytest

from switchyard.domain import (
    EXCHANGE_VENUES,
    ClientOrderId,
    ErrorCode,
    OrderPayload,
    VenueOrderId,
    VenuePositionId,
)
from switchyard.errors import VenueUnavailable
from tests.worker.helpers import SIM_ACCOUNTS, order
from worker.leases import LeaseClock
from worker.outcome import Failed, Retry, Succeeded
from worker.queue import JobQueue
from worker.trading.dispatch import Flow
from worker.venue import (
    Account,
    AccountReport,
    AccountState,
    Action,
    Ambiguous,
    Done,
    Execution,
    FillReport,
    OrderStatusReport,
    PositionReport,
    Prepared,
    Refusal,
    Rejected,
    Submitted,
    SymbolSpec,
)

REPORT = AccountReport(
    balance=Decimal(1000),
    equity=None,
    margin=None,
    free_margin=None,
    currency="USDT",
    leverage=None,
    login="key-fingerprint",
    server=None,
    permissions={"trade": True, "withdraw": False},
)


@dataclass
class PaperVenue:
    """Fills market orders at 100; `answers` replace the next submits' verdicts."""

    noun: str = "the paper exchange"
    fills_by_market: bool = False
    call_timeout_s: float = 1.0
    executed: list[ClientOrderId] = field(default_factory=list)
    answers: list[Submitted] = field(default_factory=list)
    #: How often the flow read the account again (after each trade), and whether it fails.
    refreshed: int = 0
    refresh_fails: bool = False

    def parse_id(self, text: str, what: str) -> str | Refusal:
        return text

    @contextmanager
    def on_account(self, account: Account, *, verify: bool = False) -> Iterator[PaperVenue]:
        yield self

    @property
    def account(self) -> AccountReport:
        return REPORT

    def prepare_order(self, payload: OrderPayload, coid: ClientOrderId) -> Prepared | Refusal:
        return Prepared(
            client_order_id=coid,
            action="open",
            done="filled",
            symbol=payload.symbol,
            side=payload.side.value,
            order_type=payload.type.value,
            volume=payload.volume,
            price=Decimal(100),
        )

    def submit(self, prepared: Prepared) -> Submitted:
        answer = self.answers.pop(0) if self.answers else None
        if answer is None or isinstance(answer, Ambiguous):
            self.executed.append(prepared.client_order_id)  # a lost answer: it did happen
        return answer or Done(execution=self._execution(prepared.client_order_id))

    def find(
        self,
        coid: ClientOrderId,
        *,
        since: datetime,
        action: Action,
        symbol: str | None = None,
        position: VenuePositionId | None = None,
    ) -> Execution | None:
        return self._execution(coid) if coid in self.executed else None

    def _execution(self, coid: ClientOrderId) -> Execution:
        return Execution(
            status="filled",
            venue_order_id=VenueOrderId(f"paper-{self.executed.index(coid)}"),
            price=Decimal(100),
            volume=Decimal("0.1"),
        )

    def prepare_close(self, *args: object) -> Prepared | Refusal:
        return Refusal(code=ErrorCode.INVALID_REQUEST, message="spot has no positions")

    def prepare_modify_position(self, *args: object) -> Prepared | Refusal:
        return Refusal(code=ErrorCode.INVALID_REQUEST, message="spot has no positions")

    def prepare_modify_order(self, *args: object) -> Prepared | Refusal:
        return Refusal(code=ErrorCode.INVALID_REQUEST, message="orders cannot be amended")

    def prepare_cancel(self, *args: object) -> Prepared | Refusal:
        return Refusal(code=ErrorCode.INVALID_REQUEST, message="nothing rests here")

    def symbol_spec(self, symbol: str) -> SymbolSpec | Refusal:
        return SymbolSpec(
            symbol=symbol,
            volume_min=Decimal("0.001"),
            volume_max=None,
            volume_step=Decimal("0.001"),
            price_step=Decimal("0.01"),
            contract_size=Decimal(1),
            min_notional=Decimal(5),
            bid=Decimal(100),
            ask=Decimal(100),
            unit_move_value=Decimal(1),
        )

    def positions(self) -> tuple[PositionReport, ...]:
        return ()

    def position(self, venue_position_id: VenuePositionId) -> PositionReport | None:
        return None

    def open_orders(self) -> tuple[OrderStatusReport, ...]:
        return ()

    def order(self, venue_order_id: VenueOrderId) -> OrderStatusReport | None:
        return None

    def fills(
        self, since: datetime, *, traded: frozenset[str] = frozenset()
    ) -> tuple[FillReport, ...]:
        return ()

    def refresh(self) -> AccountState:
        self.refreshed += 1
        if self.refresh_fails:
            raise VenueUnavailable("the paper exchange did not answer the read")
        return AccountState(account=REPORT, positions=())


@pytest.fixture
def paper(db, db_url, make_account, enqueue):
    """A paper venue, its flow, an exchange account with one order job, and a claimer."""
    venue = PaperVenue()
    flow = Flow(venue, verify_interval_s=60, on_verified=lambda: None)
    account = make_account(SIM_ACCOUNTS[0], kind="exchange")
    job_id = enqueue(account, "order", order())
    lease = LeaseClock("paper job")
    lease.renewed(60)
    queue = JobQueue(db, f"paper-{uuid.uuid4().hex[:6]}", 30)

    def attempt():
        job = queue.claim(EXCHANGE_VENUES)
        assert job is not None
        assert job.id == job_id
        return queue, job, flow.handle(db, job, lease)

    return venue, account, job_id, attempt


def _journal(db, job_id):
    return db.execute(
        "select status, venue_order_id, reason from public.orders where job_id = %s", (job_id,)
    ).fetchone()


def test_an_order_through_a_second_adapter_is_journalled_and_sent_once(db, paper):
    venue, account, job_id, attempt = paper
    _, _, outcome = attempt()
    assert isinstance(outcome, Succeeded), outcome
    assert outcome.result["status"] == "filled"
    assert outcome.result["order"] == "paper-0"
    assert venue.executed == [ClientOrderId(outcome.result["client_order_id"])]
    assert _journal(db, job_id)["status"] == "filled"
    assert venue.refreshed == 1  # the account read again right after the trade
    snapshots = db.execute(
        "select balance from public.balance_snapshots where account_id = %s", (account.id,)
    ).fetchall()
    assert [s["balance"] for s in snapshots] == [REPORT.balance]


def test_a_refresh_the_venue_cannot_answer_leaves_the_trade_succeeded(db, paper):
    venue, account, job_id, attempt = paper
    venue.refresh_fails = True
    _, _, outcome = attempt()
    assert isinstance(outcome, Succeeded), outcome
    assert venue.refreshed == 1
    assert len(venue.executed) == 1
    assert _journal(db, job_id)["status"] == "filled"
    snapshots = db.execute(
        "select count(*) as n from public.balance_snapshots where account_id = %s", (account.id,)
    ).fetchone()
    assert snapshots["n"] == 0  # nothing stored from a read that failed


def test_after_its_ambiguous_answer_the_order_is_looked_up_not_sent_again(db, paper):
    venue, _, job_id, attempt = paper
    venue.answers.append(Ambiguous(code=ErrorCode.VENUE_UNAVAILABLE, message="timed out"))
    queue, job, first = attempt()
    assert isinstance(first, Retry)
    assert first.ambiguous
    assert _journal(db, job_id)["status"] == "unknown"
    assert queue.retry(job.id, first.error, delay_s=0)
    _, _, second = attempt()
    assert isinstance(second, Succeeded), second
    assert len(venue.executed) == 1
    assert _journal(db, job_id)["status"] == "filled"


def test_credentials_refused_at_the_send_disable_the_account_and_nothing_is_executed(db, paper):
    venue, account, job_id, attempt = paper
    venue.answers.append(
        Rejected(code=ErrorCode.CREDENTIALS_REJECTED, message="the API key was revoked")
    )
    _, _, outcome = attempt()
    assert isinstance(outcome, Failed)
    assert outcome.error.code is ErrorCode.CREDENTIALS_REJECTED
    assert outcome.error.message == "the API key was revoked; the account is now disabled"
    assert venue.executed == []
    assert _journal(db, job_id)["status"] == "rejected"
    acc = db.execute(
        "select status, status_reason from public.accounts where id = %s", (account.id,)
    ).fetchone()
    assert (acc["status"], acc["status_reason"]) == ("disabled", "the API key was revoked")
