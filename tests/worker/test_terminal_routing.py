"""Which terminal takes a job: the servers it serves, the account it is logged in to.

Terminals say which broker servers they serve (`host:port=Server-A|Broker-*`); a job goes
only to a terminal that serves its account's server, and one whose server no terminal
serves fails at once with that reason. With several terminals, an account's jobs go to
the terminal already logged in to it (the `switch` call's terminal too). Syncs ride on
logins made for other work, and the effective sync interval is measured.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest

from switchyard.errors import ConfigError
from switchyard.settings import Settings, load_settings, terminal_spec
from tests.worker.helpers import SERVER, SIM_ACCOUNTS, address, order, running, wait_job, wait_jobs
from worker.process import Worker
from worker.schedule import measure_sync_status, report_sync_status


def test_a_terminal_entry_may_name_the_servers_it_serves():
    assert terminal_spec("127.0.0.1:18812") == ("127.0.0.1:18812", None)
    assert terminal_spec("127.0.0.1:18812=XM-MT5 2|ICMarketsSC-*") == (
        "127.0.0.1:18812",
        ("XM-MT5 2", "ICMarketsSC-*"),
    )
    settings = Settings.model_validate({"SWITCHYARD_MT5_TERMINALS": "127.0.0.1:1=A|B, 127.0.0.1:2"})
    assert settings.mt5_terminals == ("127.0.0.1:1=A|B", "127.0.0.1:2")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("127.0.0.1:1=", "names no server"),
        ("127.0.0.1:1=A,127.0.0.1:1=B", "twice"),
        ("127.0.0.1=A", "not host:port"),
    ],
)
def test_a_malformed_terminal_entry_is_refused_with_what_is_wrong(monkeypatch, value, says):
    monkeypatch.setenv("SWITCHYARD_MT5_TERMINALS", value)
    with pytest.raises(ConfigError, match=says):
        load_settings()


def test_a_worker_declares_all_its_terminals_before_any_lane_claims(
    db, make_account, enqueue, worker_settings
):
    """The first lane to lease its terminal finds nothing for its own servers and fails
    what no known terminal serves: a terminal whose lane is still starting must already
    be known, or its server's queued jobs fail at start-up (seen in CI)."""
    account = make_account(SIM_ACCOUNTS[0])
    job = enqueue(account, "order", order(volume="0.01"))
    first, second = "127.0.0.1:1", "127.0.0.1:2"
    settings = worker_settings(mt5_terminals=(f"{first}=Other-Broker-*", f"{second}={SERVER}"))
    Worker(settings, str(settings.database_url)).register()  # what start() does first
    known = db.execute("select address, servers from private.terminals order by 1").fetchall()
    assert [(r["address"], r["servers"]) for r in known] == [
        (first, ["Other-Broker-*"]),
        (second, [SERVER]),
    ]
    # The first lane leases its terminal (no lease is taken on the second) and finds nothing.
    acquired = db.execute(
        "select * from private.acquire_terminal(%s, 'w/lane', 30, %s)",
        (first, ["Other-Broker-*"]),
    ).fetchone()
    assert acquired["acquired"]
    held = db.execute("select lease_owner from private.terminals where address = %s", (second,))
    assert held.fetchone()["lease_owner"] is None
    assert db.execute("select private.fail_unserved_jobs() as n").fetchone()["n"] == 0
    row = db.execute("select status from public.jobs where id = %s", (job,)).fetchone()
    assert row["status"] == "queued"


def test_jobs_go_only_to_a_terminal_that_serves_their_server(
    db, start_sim, make_account, enqueue, worker_settings
):
    wrong, right = start_sim(), start_sim()  # both know the accounts; one is another broker's
    accounts = [make_account(SIM_ACCOUNTS[i]) for i in range(4)]
    settings = worker_settings(
        mt5_terminals=(f"{address(wrong)}=Other-Broker-*", f"{address(right)}=Nobody|{SERVER}")
    )
    with running(settings):
        jobs = [enqueue(accounts[i % 4], "order", order(volume="0.01")) for i in range(12)]
        rows = wait_jobs(db, jobs)
    assert {r["status"] for r in rows.values()} == {"succeeded"}
    assert wrong.journal() == []
    assert len(right.journal()) == 12
    servers = db.execute("select address, servers from private.terminals").fetchall()
    assert {r["address"]: r["servers"] for r in servers} == {
        address(wrong): ["Other-Broker-*"],
        address(right): ["Nobody", SERVER],
    }


def test_an_account_whose_server_no_terminal_serves_fails_at_once_with_that_reason(
    db, sim, make_account, enqueue, worker_settings
):
    pending = make_account(SIM_ACCOUNTS[0], status="pending")
    verified = make_account(SIM_ACCOUNTS[1])
    settings = worker_settings(mt5_terminals=(f"{address(sim)}=Other-Broker",))
    with running(settings):
        verify = wait_job(db, enqueue(pending, "verify"), timeout_s=10)
        trade = wait_job(db, enqueue(verified, "order", order()), timeout_s=10)
    for row in (verify, trade):
        assert (row["status"], row["error"]["code"]) == ("failed", "venue_unavailable")
        assert f"serves the server '{SERVER}'" in row["error"]["message"]
        assert row["attempts"] == 0  # never claimed: no terminal tried to log in
    account = db.execute(
        "select status, status_reason from public.accounts where id = %s", (pending.id,)
    ).fetchone()
    assert account["status"] == "failed"
    assert SERVER in account["status_reason"]
    assert sim.journal() == []


def test_an_accounts_jobs_go_to_the_terminal_already_logged_in_to_it(
    db, start_sim, make_account, enqueue, worker_settings
):
    sims = [start_sim(login_delay_s=0.05), start_sim(login_delay_s=0.05)]
    alice, bob = make_account(SIM_ACCOUNTS[0]), make_account(SIM_ACCOUNTS[1])
    with running(worker_settings(*sims)):
        wait_job(db, enqueue(alice, "switch"))
        terminal = db.execute(
            "select address from private.terminals where logged_in_account = %s", (alice.id,)
        ).fetchone()["address"]
        jobs = []
        for _ in range(10):  # a mix, so that both lanes are kept busy
            jobs.append(enqueue(alice, "order", order(volume="0.01")))
            jobs.append(enqueue(bob, "order", order(volume="0.01")))
        wait_jobs(db, jobs)
    by_terminal = {address(s): Counter(r["login"] for r in s.journal()) for s in sims}
    assert by_terminal[terminal][alice.login] == 10  # all of alice's on the switch's terminal
    other = next(a for a in by_terminal if a != terminal)
    assert by_terminal[other][alice.login] == 0
    assert sum(c[bob.login] for c in by_terminal.values()) == 10


def test_a_sync_rides_on_a_login_made_for_other_work(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(SIM_ACCOUNTS[0])
    # Synced ten minutes ago, next due in four: a switch's login syncs it now. (A trade
    # needs no ride: the worker refreshes the account right after it, as a sync would.)
    db.execute(
        "update public.accounts set synced_at = now() - interval '10 minutes',"
        " next_sync_at = now() + interval '4 minutes' where id = %s",
        (account.id,),
    )
    with running(worker_settings(sim, sync_interval_s=600)):
        wait_job(db, enqueue(account, "switch"))
        deadline = time.monotonic() + 10
        while not (
            syncs := db.execute(
                "select id from public.jobs where account_id = %s and kind = 'sync'",
                (account.id,),
            ).fetchall()
        ):
            assert time.monotonic() < deadline, "no sync rode on the switch's login"
            time.sleep(0.02)
        (sync,) = syncs
        assert wait_job(db, sync["id"])["status"] == "succeeded"
    row = db.execute(
        "select synced_at > now() - interval '1 minute' as fresh,"
        " next_sync_at > now() + interval '9 minutes' as moved"
        " from public.accounts where id = %s",
        (account.id,),
    ).fetchone()
    assert row["fresh"]
    assert row["moved"]


def test_a_trade_s_refresh_moves_the_scheduled_sync_on(
    db, sim, make_account, enqueue, worker_settings
):
    """The refresh right after a trade stores what a sync stores: the scheduled sync moves
    on from it instead of logging the terminal in again minutes later."""
    account = make_account(SIM_ACCOUNTS[0])
    db.execute(
        "update public.accounts set synced_at = now() - interval '10 minutes',"
        " next_sync_at = now() + interval '4 minutes' where id = %s",
        (account.id,),
    )
    with running(worker_settings(sim, sync_interval_s=600)):
        assert wait_job(db, enqueue(account, "order", order()))["status"] == "succeeded"
        deadline = time.monotonic() + 10
        while True:
            row = db.execute(
                "select synced_at > now() - interval '1 minute' as fresh,"
                " next_sync_at > now() + interval '9 minutes' as moved"
                " from public.accounts where id = %s",
                (account.id,),
            ).fetchone()
            if row["moved"]:
                break
            assert time.monotonic() < deadline, "the schedule did not move on"
            time.sleep(0.02)
    assert row["fresh"]
    syncs = db.execute(
        "select count(*) as n from public.jobs where account_id = %s and kind = 'sync'",
        (account.id,),
    ).fetchone()
    assert syncs["n"] == 0  # nothing to ride: the trade's refresh was the sync


def test_the_effective_sync_interval_is_measured_stored_and_logged(db, make_account, caplog):
    accounts = [make_account(SIM_ACCOUNTS[i]) for i in range(10)]
    db.execute(
        "update public.accounts set synced_at = now() - interval '10 seconds' where id = any(%s)",
        ([a.id for a in accounts[:4]],),
    )
    for account in accounts[4:]:
        db.execute(
            "insert into public.jobs (user_id, account_id, kind, priority) values"
            " (%s, %s, 'sync', -10)",
            (account.user_id, account.id),
        )
    caplog.set_level(logging.WARNING, logger="worker.schedule")
    (status,) = measure_sync_status(db, sync_interval_s=60)
    assert (status.venue, status.accounts, status.synced_in_window, status.backlog) == (
        "mt5",
        10,
        4,
        6,
    )
    assert status.effective_interval_s == pytest.approx(150.0)  # 60 s x 10 / 4
    report_sync_status([status], 60)
    assert "each account is synced about every 150 s, not every 60 s" in caplog.text
    stored = db.execute(
        "select effective_interval_s, backlog from private.sync_status where venue = 'mt5'"
    ).fetchone()
    assert (stored["effective_interval_s"], stored["backlog"]) == (150.0, 6)
