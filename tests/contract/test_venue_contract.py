"""What every venue adapter must do, stated once against `worker.venue` and run against
each adapter (`adapters.ADAPTERS`): MT5 against its simulated terminal, Binance, Bybit and
OKX through ccxt against the simulated exchange.

These are the adapter's half of the flow's guarantees: a session is on the right account
or raises before anything runs in it; a request is executed once per submit; after an
ambiguous answer the order is found by its client order id, and an order never sent is
not; reports say what the venue holds.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from switchyard.domain import ClientOrderId, ErrorCode, OrderPayload, OrderType, Side
from switchyard.errors import CredentialsRejected, WrongAccount
from tests.contract.adapters import ADAPTERS, CAN, Harness, able
from worker.venue import (
    AccountReport,
    Ambiguous,
    Done,
    Execution,
    OrderStatus,
    Prepared,
    Refusal,
    SymbolSpec,
    VenueSession,
)


def coid() -> ClientOrderId:
    return ClientOrderId("sy" + uuid.uuid4().hex[:24])


def market(h: Harness, side: Side = Side.BUY) -> OrderPayload:
    return OrderPayload(symbol=h.symbol, side=side, volume=h.volume)


def prepared(result: Prepared | Refusal) -> Prepared:
    assert isinstance(result, Prepared), result
    return result


def done(session: VenueSession, request: Prepared) -> Execution:
    verdict = session.submit(request)
    assert isinstance(verdict, Done), verdict
    return verdict.execution


def an_hour_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


# -- the account ------------------------------------------------------------------------


def test_verify_with_good_credentials_reports_the_account(harness: Harness):
    with harness.venue.on_account(harness.good, verify=True) as session:
        report = session.account
    assert isinstance(report, AccountReport)
    assert report.balance > 0
    assert report.currency
    assert harness.executed() == []


def test_bad_credentials_are_refused_before_the_session_begins(harness: Harness):
    entered = False
    with pytest.raises(CredentialsRejected), harness.venue.on_account(harness.bad, verify=True):
        entered = True
    assert not entered


@pytest.mark.parametrize("harness", able("wrong_account"), indirect=True)
def test_a_session_that_lands_on_another_account_is_refused_and_sends_nothing(
    harness: Harness,
):
    with harness.venue.on_account(harness.good):
        pass
    harness.arm("wrong_account")
    entered: list[bool] = []

    def buy_as_other() -> None:
        with harness.venue.on_account(harness.other) as session:
            entered.append(True)
            session.submit(prepared(session.prepare_order(market(harness), coid())))

    with pytest.raises(WrongAccount):
        buy_as_other()
    assert entered == []
    assert harness.executed() == []


# -- orders -----------------------------------------------------------------------------


def test_a_market_order_is_submitted_once_and_reported_done(harness: Harness):
    ours = coid()
    with harness.venue.on_account(harness.good) as session:
        request = prepared(session.prepare_order(market(harness), ours))
        execution = done(session, request)
    assert (request.client_order_id, request.action, request.symbol) == (
        ours,
        "open",
        harness.symbol,
    )
    assert request.volume == harness.volume
    assert execution.status == "filled"
    assert execution.venue_order_id
    assert harness.executed() == [ours]


def test_an_unknown_symbol_is_refused_before_anything_is_sent(harness: Harness):
    payload = OrderPayload(symbol="NOSUCH", side=Side.BUY, volume=harness.volume)
    with harness.venue.on_account(harness.good) as session:
        refusal = session.prepare_order(payload, coid())
    assert isinstance(refusal, Refusal)
    assert refusal.code is ErrorCode.INVALID_REQUEST
    assert harness.executed() == []


@pytest.mark.parametrize("fault", ["lost_result", "dropped_answer"])
def test_after_an_ambiguous_answer_the_order_is_found_by_its_client_order_id(
    harness: Harness, fault: str
):
    ours, since = coid(), an_hour_ago()
    harness.arm(fault)
    with harness.venue.on_account(harness.good) as session:
        verdict = session.submit(prepared(session.prepare_order(market(harness), ours)))
    assert isinstance(verdict, Ambiguous), verdict
    with harness.venue.on_account(harness.good) as session:
        found = session.find(ours, since=since, action="open", symbol=harness.symbol)
    assert found is not None
    assert found.status == "filled"
    assert harness.executed() == [ours]  # executed once, and found, not sent again


def test_an_order_that_was_never_sent_is_not_found(harness: Harness):
    with harness.venue.on_account(harness.good) as session:
        done(session, prepared(session.prepare_order(market(harness), coid())))
        assert (
            session.find(coid(), since=an_hour_ago(), action="open", symbol=harness.symbol) is None
        )


def test_a_resting_order_is_reported_open_and_is_cancelled(harness: Harness):
    payload = OrderPayload(
        symbol=harness.symbol,
        side=Side.BUY,
        type=OrderType.LIMIT,
        volume=harness.volume,
        price=harness.resting_price,
    )
    placing, cancelling = coid(), coid()
    with harness.venue.on_account(harness.good) as session:
        placed = done(session, prepared(session.prepare_order(payload, placing)))
        assert placed.status == "placed"
        assert placed.venue_order_id is not None
        order = session.order(placed.venue_order_id)
        assert order is not None
        assert (order.status, order.symbol, order.side) == (
            OrderStatus.OPEN,
            harness.symbol,
            Side.BUY,
        )
        assert order.price == harness.resting_price
        assert order.leaves == harness.volume
        assert order.venue_order_id in {o.venue_order_id for o in session.open_orders()}
        cancelled = done(session, prepared(session.prepare_cancel(order, cancelling)))
        after = session.order(placed.venue_order_id)
        still_open = {o.venue_order_id for o in session.open_orders()}
    assert cancelled.status == "cancelled"
    assert after is not None
    assert after.status is OrderStatus.CANCELLED
    assert placed.venue_order_id not in still_open


# -- reports ----------------------------------------------------------------------------


@pytest.mark.parametrize("harness", able("positions"), indirect=True)
def test_an_executed_order_is_reported_as_a_position_and_a_fill(harness: Harness):
    since = an_hour_ago()
    with harness.venue.on_account(harness.good) as session:
        execution = done(session, prepared(session.prepare_order(market(harness), coid())))
        positions = session.positions()
        fills = session.fills(since)
    assert execution.venue_position_id is not None
    [position] = [p for p in positions if p.venue_position_id == execution.venue_position_id]
    assert (position.symbol, position.side, position.volume) == (
        harness.symbol,
        Side.BUY,
        harness.volume,
    )
    assert position.opened_at > since
    [fill] = [f for f in fills if f.venue_order_id == execution.venue_order_id]
    assert (fill.symbol, fill.side, fill.entry, fill.volume) == (
        harness.symbol,
        Side.BUY,
        "in",
        harness.volume,
    )
    assert fill.venue_position_id == execution.venue_position_id
    assert fill.executed_at > since


def test_refresh_reads_the_account_and_its_positions_again_after_a_trade(harness: Harness):
    with harness.venue.on_account(harness.good) as session:
        before = session.refresh()
        execution = done(session, prepared(session.prepare_order(market(harness), coid())))
        after = session.refresh()
    # read again, not the report the session began with
    assert after.account != before.account
    assert after.account.login == before.account.login == session.account.login
    if harness.has_positions:
        assert execution.venue_position_id is not None
        ids_before = {p.venue_position_id for p in before.positions}
        [position] = [p for p in after.positions if p.venue_position_id not in ids_before]
        assert position.venue_position_id == execution.venue_position_id
        assert (position.symbol, position.volume) == (harness.symbol, harness.volume)
    else:
        assert before.positions == after.positions == ()


@pytest.mark.parametrize(
    "harness", sorted(n for n in ADAPTERS if "positions" not in CAN[n]), indirect=True
)
def test_on_spot_an_executed_order_is_a_fill_and_never_a_position(harness: Harness):
    since = an_hour_ago()
    with harness.venue.on_account(harness.good) as session:
        execution = done(session, prepared(session.prepare_order(market(harness), coid())))
        positions = session.positions()
        fills = session.fills(since)
    assert positions == ()
    [fill] = [f for f in fills if f.venue_order_id == execution.venue_order_id]
    assert (fill.symbol, fill.side, fill.volume) == (harness.symbol, Side.BUY, harness.volume)
    assert fill.executed_at > since


@pytest.mark.parametrize("harness", able("positions"), indirect=True)
def test_a_position_is_closed_and_then_no_longer_reported(harness: Harness):
    opening, closing = coid(), coid()
    with harness.venue.on_account(harness.good) as session:
        opened = done(session, prepared(session.prepare_order(market(harness), opening)))
        assert opened.venue_position_id is not None
        position = session.position(opened.venue_position_id)
        assert position is not None
        closed = done(
            session, prepared(session.prepare_close(position, position.volume, 20, closing))
        )
        gone = session.position(opened.venue_position_id)
    assert closed.status == "closed"
    assert gone is None
    assert harness.executed() == [opening, closing]


# -- leverage ---------------------------------------------------------------------------


@pytest.mark.parametrize("harness", able("leverage"), indirect=True)
def test_a_perpetual_orders_leverage_is_set_before_it_and_its_position_reports_it(
    harness: Harness,
):
    ours = coid()
    payload = OrderPayload(symbol=harness.symbol, side=Side.BUY, volume=harness.volume, leverage=4)
    with harness.venue.on_account(harness.good) as session:
        request = prepared(session.prepare_order(payload, ours))
        assert request.leverage == 4
        assert session.apply_leverage(request) is None
        execution = done(session, request)
        assert execution.venue_position_id is not None
        position = session.position(execution.venue_position_id)
    assert position is not None
    assert position.leverage == 4
    assert harness.executed() == [ours]


@pytest.mark.parametrize("harness", able("leverage"), indirect=True)
def test_setting_the_leverage_a_symbol_already_has_is_no_error(harness: Harness):
    """Bybit answers 110043 "Set leverage not modified" (ccxt: BadRequest); OKX accepts it."""
    payload = OrderPayload(symbol=harness.symbol, side=Side.BUY, volume=harness.volume, leverage=6)
    with harness.venue.on_account(harness.good) as session:
        request = prepared(session.prepare_order(payload, coid()))
        assert session.apply_leverage(request) is None
        assert session.apply_leverage(request) is None
    assert harness.executed() == []


@pytest.mark.parametrize(
    "harness", sorted(n for n in ADAPTERS if "leverage" not in CAN[n]), indirect=True
)
def test_an_order_with_leverage_is_refused_where_the_venue_cannot_set_it(harness: Harness):
    """MT5's leverage is the account's, set at the broker; a spot market has none: never
    silently dropped, refused before anything is sent."""
    payload = OrderPayload(symbol=harness.symbol, side=Side.BUY, volume=harness.volume, leverage=2)
    with harness.venue.on_account(harness.good) as session:
        refusal = session.prepare_order(payload, coid())
    assert isinstance(refusal, Refusal)
    assert refusal.code is ErrorCode.INVALID_REQUEST
    assert "leverage" in refusal.message
    assert harness.executed() == []


def test_an_id_the_venue_cannot_have_is_refused_without_a_session(harness: Harness):
    refusal = harness.venue.parse_id("not an id!", "position")
    assert isinstance(refusal, Refusal)
    assert refusal.code is ErrorCode.INVALID_REQUEST
    assert "not an id!" in refusal.message


# -- the symbol's contract specification (what sizing obeys) ----------------------------


def test_a_symbol_spec_states_the_volume_rules_and_a_live_price(harness: Harness):
    with harness.venue.on_account(harness.good) as session:
        spec = session.symbol_spec(harness.symbol)
        unknown = session.symbol_spec("NOSUCHSYMBOL")
    assert isinstance(spec, SymbolSpec), spec
    assert spec.symbol == harness.symbol
    assert 0 < spec.volume_step <= spec.volume_min
    assert spec.volume_max is None or spec.volume_max >= spec.volume_min
    assert spec.contract_size > 0
    assert spec.unit_move_value > 0
    assert 0 < spec.price_step < spec.bid <= spec.ask
    # the harness's own order volume obeys the venue's rules
    assert harness.volume >= spec.volume_min
    assert (harness.volume / spec.volume_step) % 1 == 0
    assert isinstance(unknown, Refusal)
    assert "NOSUCHSYMBOL" in unknown.message
    assert harness.executed() == []
