"""The schedule (syncs, re-verification, disabling), and waking up with and without NOTIFY."""

from __future__ import annotations

import time
from datetime import timedelta

from switchyard.db import connect
from tests.worker.helpers import SIM_ACCOUNTS, running, set_faults, wait_job
from worker.schedule import tick


def _jobs_of(db, account, kind):
    return db.execute(
        "select id, status from public.jobs where account_id = %s and kind = %s",
        (account.id, kind),
    ).fetchall()


def test_the_schedule_queues_and_runs_a_sync_for_a_stale_account(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(SIM_ACCOUNTS[0])
    db.execute(
        "update public.accounts set next_sync_at = now() - interval '1 minute',"
        " next_verify_at = now() + interval '1 day' where id = %s",
        (account.id,),
    )
    with running(worker_settings(sim, sync_interval_s=3600)):
        deadline = time.monotonic() + 20
        while not _jobs_of(db, account, "sync"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [sync] = _jobs_of(db, account, "sync")
        row = wait_job(db, sync["id"])
        time.sleep(1.0)  # a few more ticks queue nothing: the next sync is an hour away
        assert len(_jobs_of(db, account, "sync")) == 1
    assert row["status"] == "succeeded", row
    acc = db.execute(
        "select synced_at, next_sync_at - now() as due_in from public.accounts where id = %s",
        (account.id,),
    ).fetchone()
    assert acc["synced_at"] is not None
    assert timedelta(minutes=55) < acc["due_in"] <= timedelta(hours=1)


def test_new_schedules_are_spread_over_the_interval_not_bunched(db, db_url, make_account):
    for i in range(20):
        make_account(SIM_ACCOUNTS[i])
    with connect(db_url, autocommit=True) as conn:
        syncs, verifies = tick(conn, sync_interval_s=600, verify_interval_s=86_400)
    assert (syncs, verifies) == (0, 0)
    rows = db.execute(
        "select extract(epoch from next_sync_at - now()) as s from public.accounts"
    ).fetchall()
    offsets = sorted(float(r["s"]) for r in rows)
    assert all(-1 < s <= 600 for s in offsets)
    buckets = {int(s // 120) for s in offsets}
    assert len(buckets) >= 4  # 20 accounts land all over the 10 minutes


def test_the_schedule_serves_accounts_of_every_venue(db, db_url, make_account):
    exchange = make_account(SIM_ACCOUNTS[0], kind="exchange")
    db.execute(
        "update public.accounts set next_sync_at = now() - interval '1 minute',"
        " next_verify_at = now() - interval '1 minute' where id = %s",
        (exchange.id,),
    )
    with connect(db_url, autocommit=True) as conn:
        assert tick(conn, sync_interval_s=600, verify_interval_s=86_400) == (1, 1)
    jobs = db.execute(
        "select kind, venue from public.jobs where account_id = %s order by kind",
        (exchange.id,),
    ).fetchall()
    assert [(j["kind"], j["venue"]) for j in jobs] == [("sync", "binance"), ("verify", "binance")]


def test_a_revoked_password_disables_the_account_with_the_reason_and_audits_it(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(SIM_ACCOUNTS[0])
    set_faults(sim, fail_logins=[account.login])  # the broker no longer accepts it
    db.execute(
        "update public.accounts set next_verify_at = now() - interval '1 second',"
        " next_sync_at = now() + interval '1 day' where id = %s",
        (account.id,),
    )
    with running(worker_settings(sim)):
        deadline = time.monotonic() + 20
        while not _jobs_of(db, account, "verify"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [verify] = _jobs_of(db, account, "verify")
        row = wait_job(db, verify["id"])
        trade = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
        refused = wait_job(db, trade)
    assert (row["status"], row["error"]["code"]) == ("failed", "credentials_rejected")
    acc = db.execute(
        "select status, status_reason from public.accounts where id = %s", (account.id,)
    ).fetchone()
    assert acc["status"] == "disabled"
    assert "Authorization failed" in acc["status_reason"]
    audit = db.execute(
        "select detail from public.audit_log where account_id = %s and action = 'account.disabled'",
        (account.id,),
    ).fetchone()
    assert "Authorization failed" in audit["detail"]["reason"]
    assert (refused["status"], refused["error"]["code"]) == ("failed", "account_unavailable")
    assert sim.journal() == []


def test_a_login_rejected_during_a_trade_disables_the_account_and_sends_nothing(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(SIM_ACCOUNTS[0])
    set_faults(sim, fail_logins=[account.login])
    job = enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("failed", "credentials_rejected")
    assert "disabled" in row["error"]["message"]
    assert sim.journal() == []


def test_notify_wakes_the_worker_long_before_the_poll(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(SIM_ACCOUNTS[0])
    with running(worker_settings(sim, worker_poll_s=30)) as worker:
        assert worker.listener.listening.wait(10)
        wait_job(db, enqueue(account, "switch"))  # the terminal is leased and logged in
        started = time.monotonic()
        wait_job(db, enqueue(account, "switch"), timeout_s=10)
        assert time.monotonic() - started < 5


def test_a_lost_notify_is_covered_by_the_poll(db, sim, make_account, enqueue, worker_settings):
    account = make_account(SIM_ACCOUNTS[0])
    with running(worker_settings(sim, worker_poll_s=0.5)) as worker:
        assert worker.listener.listening.wait(10)
        wait_job(db, enqueue(account, "switch"))
        db.execute("alter table public.jobs disable trigger jobs_notify")
        job = enqueue(account, "switch")
        row = wait_job(db, job, timeout_s=10)
    assert row["status"] == "succeeded"
