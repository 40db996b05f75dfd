"""Deals are stored once per (account, venue deal id) and never silently merged.

A sync over a simulated terminal that was killed and restarted stores every new deal
(the terminal keeps its ticket counter), and a deal id the venue reports with other
content than the stored row is counted, logged and audited while the row is kept.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from tests.worker.helpers import SIM_ACCOUNTS, running, wait_job

ALICE = SIM_ACCOUNTS[0]


def buy_and_sync(db, account, enqueue, settings) -> dict:
    with running(settings):
        opened = wait_job(
            db, enqueue(account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "0.1"})
        )
        assert opened["status"] == "succeeded", opened
        synced = wait_job(db, enqueue(account, "sync"))
    assert synced["status"] == "succeeded", synced
    return synced["result"]


def count_deals(db, account) -> int:
    row = db.execute(
        "select count(*) as n from public.deals where account_id = %s", (account.id,)
    ).fetchone()
    return int(row["n"])


def test_a_sync_over_a_restarted_simulator_stores_every_new_deal(
    db, sim, restart_sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    before = buy_and_sync(db, account, enqueue, worker_settings(sim))
    # the refresh right after the buy stored the deposit and the buy; the sync reads them again
    assert (before["new_deals"], before["conflicting_deals"]) == (0, 0)
    assert count_deals(db, account) == 2

    again = restart_sim(sim)
    after = buy_and_sync(db, account, enqueue, worker_settings(again))
    assert (after["new_deals"], after["conflicting_deals"]) == (0, 0)
    assert count_deals(db, account) == 3  # the second buy
    assert after["positions"] == 2
    deals = db.execute(
        "select venue_deal_id, venue_position_id from public.deals"
        " where account_id = %s and side = 'buy' order by executed_at, venue_deal_id",
        (account.id,),
    ).fetchall()
    assert len({d["venue_deal_id"] for d in deals}) == 2
    assert len({d["venue_position_id"] for d in deals}) == 2
    orders = db.execute(
        "select venue_order_id from public.orders where account_id = %s", (account.id,)
    ).fetchall()
    assert len({o["venue_order_id"] for o in orders}) == 2  # no ticket handed out twice


def test_a_deal_reported_with_other_content_is_counted_logged_audited_and_not_merged(
    db, sim, make_account, enqueue, worker_settings, caplog
):
    caplog.set_level(logging.ERROR, logger="worker.deals")
    account = make_account(ALICE)
    settings = worker_settings(sim)
    first = buy_and_sync(db, account, enqueue, settings)
    assert first["conflicting_deals"] == 0
    (stored,) = db.execute(
        "update public.deals set price = price + 1 where account_id = %s and side = 'buy'"
        " returning venue_deal_id, price",
        (account.id,),
    ).fetchall()
    deal_id, kept_price = stored["venue_deal_id"], stored["price"]

    with running(settings):
        second = wait_job(db, enqueue(account, "sync"))
        third = wait_job(db, enqueue(account, "sync"))
    assert second["status"] == "succeeded", second
    assert (second["result"]["new_deals"], second["result"]["conflicting_deals"]) == (0, 1)
    assert third["result"]["conflicting_deals"] == 1  # still there, still reported
    rows = db.execute(
        "select price from public.deals where account_id = %s and venue_deal_id = %s",
        (account.id, deal_id),
    ).fetchall()
    assert [r["price"] for r in rows] == [kept_price]  # one row, left as it was
    audit = db.execute(
        "select job_id, detail from public.audit_log"
        " where account_id = %s and action = 'deal.conflict'",
        (account.id,),
    ).fetchall()
    assert len(audit) == 1  # one row per distinct disagreement, however often it is read
    assert audit[0]["job_id"] == second["id"]
    detail = audit[0]["detail"]
    assert detail["venue_deal_id"] == deal_id
    assert set(detail["stored"]) == set(detail["reported"]) == {"price"}
    assert Decimal(detail["stored"]["price"]) == kept_price
    assert Decimal(detail["reported"]["price"]) == kept_price - 1
    errors = [r.getMessage() for r in caplog.records if r.name == "worker.deals"]
    assert len(errors) == 2
    assert all(deal_id in m and str(account.id) in m and "price" in m for m in errors)
    assert all(r.levelno == logging.ERROR for r in caplog.records if r.name == "worker.deals")


def test_a_deal_stored_before_swaps_were_kept_gets_the_venues_swap_and_is_no_conflict(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    settings = worker_settings(sim)
    buy_and_sync(db, account, enqueue, settings)
    db.execute("update public.deals set swap = null where account_id = %s", (account.id,))
    with running(settings):
        again = wait_job(db, enqueue(account, "sync"))
    assert (again["result"]["new_deals"], again["result"]["conflicting_deals"]) == (0, 0)
    swaps = db.execute(
        "select swap from public.deals where account_id = %s", (account.id,)
    ).fetchall()
    assert [s["swap"] for s in swaps] == [Decimal(0), Decimal(0)]  # the deposit's and the buy's
