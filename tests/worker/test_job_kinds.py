"""Every MT5 job kind, success and failure, through a real worker and a simulated terminal."""

from __future__ import annotations

from decimal import Decimal

from switchyard.db import connect
from switchyard.domain import ErrorCode, JobError, Venue, client_order_id
from tests.worker.helpers import (
    SIM_ACCOUNTS,
    running,
    set_faults,
    sim_state,
    wait_job,
    wait_jobs,
)
from worker.queue import JobQueue

ALICE, BOB, POOR = SIM_ACCOUNTS[0], SIM_ACCOUNTS[1], SIM_ACCOUNTS[20]


def test_verify_marks_the_account_verified_with_what_the_terminal_reports(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE, status="pending")
    job = enqueue(account, "verify")
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert row["result"]["login"] == str(ALICE["login"])
    assert Decimal(row["result"]["balance"]) == Decimal("100000.0")
    acc = db.execute("select * from public.accounts where id = %s", (account.id,)).fetchone()
    assert acc["status"] == "verified"
    assert (acc["currency"], acc["leverage"]) == ("USD", 100)
    assert acc["permissions"]["trade_allowed"] is True
    assert acc["next_verify_at"] is not None
    snap = db.execute(
        "select balance from public.balance_snapshots where account_id = %s order by id",
        (account.id,),
    ).fetchall()
    assert snap[0]["balance"] == Decimal("100000.0")


def test_verify_with_a_wrong_password_fails_the_account_with_the_terminals_reason(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE, status="pending", password="not-the-password")
    job = enqueue(account, "verify")
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "failed"
    assert row["error"]["code"] == "credentials_rejected"
    assert "Authorization failed" in row["error"]["message"]
    assert "not-the-password" not in str(row)
    acc = db.execute(
        "select status, status_reason from public.accounts where id = %s", (account.id,)
    ).fetchone()
    assert acc["status"] == "failed"
    assert "Authorization failed" in acc["status_reason"]
    audit = db.execute(
        "select action from public.audit_log where account_id = %s and action = 'account.failed'",
        (account.id,),
    ).fetchall()
    assert len(audit) == 1


def test_switch_logs_the_terminal_in_to_the_account(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(BOB)
    job = enqueue(account, "switch")
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert sim_state(sim)["login"] == BOB["login"]


def test_market_order_is_filled_journalled_and_carries_the_client_order_id(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    job = enqueue(
        account,
        "order",
        {"symbol": "EURUSD", "side": "buy", "volume": "0.10", "sl": "1.0", "tp": "1.3"},
    )
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    coid = client_order_id(job)
    assert row["result"]["status"] == "filled"
    assert row["result"]["client_order_id"] == coid
    [executed] = sim.journal()
    assert executed["login"] == ALICE["login"]
    assert executed["comment"] == coid
    assert executed["magic"] == worker_settings().mt5_magic
    assert (executed["sl"], executed["tp"]) == (1.0, 1.3)
    order = db.execute("select * from public.orders where client_order_id = %s", (coid,)).fetchone()
    assert order["status"] == "filled"
    assert order["venue_order_id"] == str(executed["order"])
    assert order["job_id"] == job


def test_pending_limit_order_is_placed(db, sim, make_account, enqueue, worker_settings):
    account = make_account(ALICE)
    job = enqueue(
        account,
        "order",
        {"symbol": "EURUSD", "side": "buy", "type": "limit", "volume": "0.2", "price": "0.9"},
    )
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert row["result"]["status"] == "placed"
    state = sim_state(sim)
    [book] = [a for a in state["accounts"] if a["login"] == ALICE["login"]]
    assert book["orders"] == [int(row["result"]["order"])]


def test_order_without_enough_margin_fails_with_no_money_and_journals_the_rejection(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(POOR)
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "50"})
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "failed"
    assert row["error"]["code"] == "no_money"
    assert row["error"]["retcode"] == 10019
    assert "margin" in row["error"]["message"]
    assert sim.journal() == []
    order = db.execute(
        "select status, retcode from public.orders where job_id = %s", (job,)
    ).fetchone()
    assert (order["status"], order["retcode"]) == ("rejected", 10019)


def test_order_in_a_closed_market_fails_with_market_closed(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    job = enqueue(account, "order", {"symbol": "DE40", "side": "sell", "volume": "1"})
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("failed", "market_closed")


def test_a_requote_is_retried_and_then_filled_once(db, sim, make_account, enqueue, worker_settings):
    account = make_account(ALICE)
    set_faults(sim, next_send_retcodes=[10004, 10004])
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "sell", "volume": "0.1"})
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert row["status"] == "succeeded", row
    assert row["attempts"] == 3
    assert len(sim.journal()) == 1


def test_order_above_the_accounts_risk_limit_is_refused_before_the_terminal(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    db.execute(
        "update public.accounts set risk_limits = '{\"max_volume\": 1}' where id = %s",
        (account.id,),
    )
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "2"})
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("failed", "risk_limit")
    assert sim.journal() == []


def test_close_full_and_partial(db, sim, make_account, enqueue, worker_settings):
    account = make_account(ALICE)
    opened = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "1"})
    with running(worker_settings(sim)):
        position = wait_job(db, opened)["result"]["position"]
        part = enqueue(account, "close", {"position": position, "volume": "0.4"})
        assert wait_job(db, part)["result"]["status"] == "closed"
        rest = enqueue(account, "close", {"position": position})
        row = wait_job(db, rest)
        again = enqueue(account, "close", {"position": position})
        gone = wait_job(db, again)
    assert row["status"] == "succeeded"
    assert Decimal(row["result"]["volume"]) == Decimal("0.6")
    assert (gone["status"], gone["error"]["code"]) == ("failed", "not_found")
    volumes = [(j["action"], j["volume"]) for j in sim.journal()]
    assert volumes == [(1, 1.0), (1, 0.4), (1, 0.6)]
    left = db.execute(
        "select count(*) as n from public.positions where account_id = %s", (account.id,)
    ).fetchone()
    assert left["n"] == 0


def test_modify_sets_sl_tp_and_cancel_removes_a_pending_order(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    opened = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
    pending = enqueue(
        account,
        "order",
        {"symbol": "EURUSD", "side": "sell", "type": "limit", "volume": "0.1", "price": "1.5"},
    )
    with running(worker_settings(sim)):
        done = wait_jobs(db, [opened, pending])
        position = done[opened]["result"]["position"]
        order = done[pending]["result"]["order"]
        sltp = enqueue(account, "modify", {"position": position, "sl": "0.95"})
        reprice = enqueue(account, "modify", {"order": order, "price": "1.6"})
        cancel = enqueue(account, "cancel", {"order": order})
        rows = wait_jobs(db, [sltp, reprice, cancel])
        cancel_again = enqueue(account, "cancel", {"order": order})
        again = wait_job(db, cancel_again)
        missing = enqueue(account, "modify", {"position": "999", "tp": "2"})
        not_found = wait_job(db, missing)
    assert all(r["status"] == "succeeded" for r in rows.values()), rows
    assert rows[sltp]["result"]["status"] == "modified"
    assert rows[cancel]["result"]["status"] == "cancelled"
    assert again["status"] == "succeeded"  # already cancelled: the goal holds
    assert (not_found["status"], not_found["error"]["code"]) == ("failed", "not_found")
    actions = [j["action"] for j in sim.journal()]
    assert actions == [1, 5, 6, 7, 8]
    modified = next(j for j in sim.journal() if j["action"] == 6)
    assert modified["sl"] == 0.95


def test_sync_records_balance_positions_and_new_deals(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    opened = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.3"})
    with running(worker_settings(sim)):
        wait_job(db, opened)
        # the trade's own refresh stored them already: the sync must find them by itself
        db.execute("delete from public.deals where account_id = %s", (account.id,))
        db.execute("delete from public.positions where account_id = %s", (account.id,))
        first = wait_job(db, enqueue(account, "sync"))
        second = wait_job(db, enqueue(account, "sync"))
    assert first["status"] == "succeeded", first
    assert first["result"]["positions"] == 1
    assert first["result"]["new_deals"] >= 2  # the opening deposit and our buy
    assert second["result"]["new_deals"] == 0
    positions = db.execute(
        "select symbol, side, volume from public.positions where account_id = %s", (account.id,)
    ).fetchall()
    assert [(p["symbol"], p["side"], p["volume"]) for p in positions] == [
        ("EURUSD", "buy", Decimal("0.3"))
    ]
    deals = db.execute(
        "select side, entry from public.deals where account_id = %s and side is not null",
        (account.id,),
    ).fetchall()
    assert [(d["side"], d["entry"]) for d in deals] == [("buy", "in")]
    synced = db.execute(
        "select synced_at from public.accounts where id = %s", (account.id,)
    ).fetchone()
    assert synced["synced_at"] is not None


def test_a_worker_without_exchange_lanes_leaves_exchange_jobs_to_one_that_has_them(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE, kind="exchange", status="pending")
    job = enqueue(account, "verify")
    mt5_job = enqueue(make_account(SIM_ACCOUNTS[1]), "sync")
    with running(worker_settings(sim, exchange_lanes=0)):
        assert wait_job(db, mt5_job)["status"] == "succeeded"
    row = db.execute("select status, attempts from public.jobs where id = %s", (job,)).fetchone()
    assert (row["status"], row["attempts"]) == ("queued", 0)


def test_trades_of_a_disabled_account_fail_without_touching_the_terminal(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE, status="disabled")
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("failed", "account_unavailable")
    assert sim.journal() == []


def test_an_invalid_payload_fails_with_invalid_request(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "up", "volume": "0.1"})
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("failed", "invalid_request")


def test_a_job_whose_account_was_deleted_is_ended_by_its_venues_lane(
    db, db_url, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    job = enqueue(account, "sync")
    with connect(db_url, autocommit=True) as conn:
        queue = JobQueue(conn, "another-worker", 30)
        assert queue.claim({Venue.MT5}) is not None
        db.execute("delete from public.accounts where id = %s", (account.id,))  # while it runs
        error = JobError(code=ErrorCode.VENUE_UNAVAILABLE, message="terminal busy")
        assert queue.retry(job, error, delay_s=0)
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("failed", "account_unavailable"), row
    assert row["error"]["message"] == "the account no longer exists"
    assert sim.journal() == []
