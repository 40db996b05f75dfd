"""The guards of invariants 3–5, each shown to hold where only it stands between a job and
a wrong send: the post-login account check, both lease checks, the server in the account
match, the fairness streak, the attempt caps, and the journal's last word before a send.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from switchyard.db import Connection, connect
from switchyard.domain import AccountId, JobKind, OrderPayload, Venue, client_order_id
from switchyard.sim.mt5.server import SimAccount
from switchyard.vault import Vault
from tests.worker.helpers import (
    SIM_ACCOUNTS,
    address,
    order,
    running,
    set_faults,
    sim_account,
    sim_state,
    wait_heartbeats,
    wait_job,
    wait_jobs,
    wait_status,
)
from worker.heartbeat import Heartbeat
from worker.lane import AMBIGUOUS_EXTRA_ATTEMPTS
from worker.leases import Holdings, LeaseClock
from worker.outcome import Retry
from worker.queue import Job
from worker.trading import records
from worker.trading.context import JobContext
from worker.trading.journal import Intent, Journal
from worker.trading.sending import send
from worker.ttl import Deadline
from worker.venue import Account, Prepared
from worker.venues.mt5.adapter import Mt5Venue
from worker.venues.mt5.bridge import Bridge
from worker.venues.mt5.terminal import TerminalSession

ALICE, BOB = SIM_ACCOUNTS[0], SIM_ACCOUNTS[1]
ENDED = {"queued", "succeeded", "failed", "cancelled"}


@contextmanager
def lanes_held_after_the_claim(db_url: str) -> Iterator[None]:
    """While this lasts, a lane that claimed a job waits to read the job's account (and its
    sealed credentials): a window in which a test can take a lease away from it."""
    with connect(db_url) as conn:  # not autocommit: the lock lasts until the rollback
        conn.execute("lock table private.account_secrets in access exclusive mode")
        try:
            yield
        finally:
            conn.rollback()


def _steal_terminal(db: Connection) -> None:
    db.execute(
        "update private.terminals set lease_owner = 'another-worker',"
        " lease_expires_at = now() + interval '1 hour'"
    )


def _give_back_terminal(db: Connection) -> None:
    db.execute("update private.terminals set lease_owner = null, lease_expires_at = null")


def _release_hung_login(sim) -> None:
    control = sim.control()
    try:
        control.modules.MetaTrader5._sim.clear_faults()
    finally:
        control.close()


# -- invariant 3: the right account, and the terminal ours --------------------------------


def test_a_login_that_lands_on_another_account_sends_nothing_and_says_so(
    db, sim, make_account, enqueue, worker_settings
):
    alice, bob = make_account(ALICE), make_account(BOB)
    with running(worker_settings(sim)):
        wait_job(db, enqueue(alice, "switch"))
        # bob's logins "succeed", but the terminal stays on alice
        set_faults(sim, wrong_account_next_logins=100)
        job = enqueue(bob, "order", order(), max_attempts=2)
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("failed", "venue_unavailable"), row
    message = row["error"]["message"]
    assert "gave up after 2 attempts" in message
    assert "reported a different account" in message
    assert "nothing was sent" in message
    assert str(ALICE["login"]) not in message  # someone else's account is not named
    assert sim.journal() == []
    assert sim_state(sim)["login"] == ALICE["login"]


def test_the_same_login_on_another_server_is_logged_in_not_taken_for_the_one_on_the_terminal(
    db, sim, make_account, enqueue, worker_settings
):
    twin = sim_account(0, server="Switchyard-Twin", password="twin-Secret!")
    control = sim.control()
    try:
        control.modules.MetaTrader5._sim.add_account(
            twin["login"], twin["password"], twin["server"], 1000.0
        )
    finally:
        control.close()
    alice, other = make_account(ALICE), make_account(twin)
    with running(worker_settings(sim)):
        wait_job(db, enqueue(alice, "switch"))
        row = wait_job(db, enqueue(other, "order", order()))
    assert row["status"] == "succeeded", row
    [executed] = sim.journal()
    assert (executed["login"], executed["server"]) == (twin["login"], "Switchyard-Twin")


def test_a_lapsed_terminal_lease_stops_the_send_though_the_terminal_is_still_logged_in(
    db, db_url, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    with running(worker_settings(sim)) as worker:
        wait_job(db, enqueue(alice, "switch"))  # on alice: the next order needs no login
        lane = worker.lanes[0]
        with lanes_held_after_the_claim(db_url):
            job = enqueue(alice, "order", order())
            wait_status(db, job, {"running"})
            _steal_terminal(db)  # e.g. this worker was cut off and another one took over
            wait_heartbeats(db, worker.owner)
            assert lane.terminal_lease.remaining_s() <= 0
        row = wait_status(db, job, ENDED)
        assert row["status"] == "queued", row
        assert "lease" in row["error"]["message"]
        assert sim.journal() == []
        assert sim_state(sim)["login"] == ALICE["login"]
        _give_back_terminal(db)
        done = wait_job(db, job)
    assert done["status"] == "succeeded", done
    assert len(sim.journal()) == 1


def test_a_verification_does_not_log_in_on_a_terminal_whose_lease_lapsed(
    db, db_url, sim, make_account, enqueue, worker_settings
):
    alice, bob = make_account(ALICE), make_account(BOB)
    with running(worker_settings(sim)) as worker:
        wait_job(db, enqueue(bob, "switch"))
        with lanes_held_after_the_claim(db_url):
            job = enqueue(alice, "verify")
            wait_status(db, job, {"running"})
            _steal_terminal(db)  # another worker may be mid-order on this terminal now
            wait_heartbeats(db, worker.owner)
        row = wait_status(db, job, ENDED)
        assert row["status"] == "queued", row
        assert "lease" in row["error"]["message"]
        # a login here would have switched the terminal under the other worker's feet
        assert sim_state(sim)["login"] == BOB["login"]


def test_a_terminal_lease_lost_during_a_login_stops_the_send_after_it(
    db, sim, make_account, enqueue, worker_settings
):
    alice, bob = make_account(ALICE), make_account(BOB)
    with running(worker_settings(sim, mt5_login_timeout_s=20)) as worker:
        wait_job(db, enqueue(alice, "switch"))
        set_faults(sim, hang_next_login_s=60)  # bob's login waits for the release below
        job = enqueue(bob, "order", order())
        deadline = time.monotonic() + 20
        while sim_state(sim)["login"] is not None:  # the terminal left alice: bob's login began
            assert time.monotonic() < deadline
            time.sleep(0.05)
        _steal_terminal(db)
        wait_heartbeats(db, worker.owner)
        assert worker.lanes[0].terminal_lease.remaining_s() <= 0
        _release_hung_login(sim)  # the login completes, on bob
        row = wait_status(db, job, ENDED)
        assert row["status"] == "queued", row
        assert "lease" in row["error"]["message"]
        assert sim.journal() == []
        _give_back_terminal(db)
        done = wait_job(db, job)
    assert done["status"] == "succeeded", done
    [executed] = sim.journal()
    assert executed["login"] == BOB["login"]


def _wait_until_waiting_on_a_lock(db: Connection, application: str) -> None:
    """Until `application` waits for a row another transaction holds (a row lock shows as
    a wait on that transaction). A wait on a table lock released a moment ago may still be
    shown by pg_stat_activity, so it does not count."""
    deadline = time.monotonic() + 20
    while not db.execute(
        "select 1 from pg_locks l join pg_stat_activity a on a.pid = l.pid"
        " where a.application_name = %s and not l.granted"
        " and l.locktype in ('transactionid', 'tuple')",
        (application,),
    ).fetchone():
        assert time.monotonic() < deadline, f"{application} never waited on a lock"
        time.sleep(0.02)


def test_a_lease_is_not_used_once_less_than_a_call_of_it_remains(
    db, db_url, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    # The refused attempt's retry must not run before the worker stops: its (legitimate)
    # second attempt would put the order in the journal read at the end (seen in CI).
    settings = worker_settings(sim, worker_retry_base_s=60.0, worker_retry_max_s=60.0)
    margin_s = settings.mt5_call_timeout_s + 1.0  # the call's timeout and SEND_MARGIN_S
    with running(settings) as worker:
        wait_job(db, enqueue(alice, "switch"))
        lane = worker.lanes[0]
        stall = connect(db_url)  # holds the heartbeat's next beat: the leases run down
        try:
            with lanes_held_after_the_claim(db_url):
                job = enqueue(alice, "order", order())
                wait_status(db, job, {"running"})
                stall.execute(
                    "select 1 from private.workers where id = %s for update", (worker.owner,)
                )
                deadline = time.monotonic() + 20
                while lane.terminal_lease.remaining_s() > margin_s - 0.5:
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
                assert lane.terminal_lease.remaining_s() > 0  # not lapsed, merely too short
            # the lane goes on with its short leases; writing the job back waits for the
            # stalled beat (it holds the job's row)
            _wait_until_waiting_on_a_lock(db, f"switchyard-{lane.name}")
        finally:
            stall.rollback()
            stall.close()
        row = wait_status(db, job, ENDED)
    assert row["status"] == "queued", row
    assert "lease" in row["error"]["message"]
    assert sim.journal() == []


def test_one_busy_account_cannot_starve_another(db, sim, make_account, enqueue, worker_settings):
    # The lane drains alice's queue (the terminal is on her) for at most 0.2 s; then bob's
    # older job goes next. Two hundred of her jobs take far longer than that (a few ms
    # each, even on an idle machine), so bob starts after some of them, never after all.
    alice, bob = make_account(ALICE), make_account(BOB)
    settings = worker_settings(sim, worker_drain_s=0.2)
    with running(settings):
        wait_job(db, enqueue(alice, "switch"))  # the terminal is on alice: she is preferred
        with db.transaction():
            bobs = enqueue(bob, "switch")
            db.execute(
                "update public.jobs set run_after = now() - interval '1 second' where id = %s",
                (bobs,),
            )
            alices = [enqueue(alice, "switch") for _ in range(200)]
        wait_jobs(db, [bobs, *alices])
    started = db.execute(
        "select id from public.jobs where id = any(%s) order by started_at", ([bobs, *alices],)
    ).fetchall()
    order_of_start = [row["id"] for row in started]
    alices_before_bob = order_of_start.index(bobs)
    # drained (not bob first), but only for a while (not after all of hers)
    assert 1 <= alices_before_bob < len(alices), alices_before_bob


def test_a_trade_is_not_kept_behind_the_logged_in_accounts_syncs(
    db, start_sim, make_account, enqueue, worker_settings
):
    sim = start_sim(login_delay_s=0.2)
    alice, bob = make_account(ALICE), make_account(BOB)
    settings = worker_settings(sim, worker_drain_s=60)
    with running(settings):
        wait_job(db, enqueue(alice, "switch"))
        with db.transaction():
            syncs = [enqueue(alice, "verify", priority=-10) for _ in range(6)]
            trade = enqueue(bob, "order", order(volume="0.01"))
        wait_jobs(db, [trade, *syncs])
    started = db.execute(
        "select id from public.jobs where id = any(%s) order by started_at", ([trade, *syncs],)
    ).fetchall()
    assert [row["id"] for row in started].index(trade) == 0


def _session_account(vault: Vault, sim_acc: SimAccount) -> Account:
    """An account as the flow hands it to the terminal session (no database row needed)."""
    account_id = AccountId(uuid.uuid4())
    return Account(
        id=account_id,
        user_id=uuid.uuid4(),
        venue=Venue.MT5,
        login=str(sim_acc["login"]),
        server=sim_acc["server"],
        environment="demo",
        status="verified",
        is_active=True,
        ciphertext=vault.seal(account_id, {"password": sim_acc["password"]}).ciphertext,
    )


def test_two_users_never_share_the_critical_section_of_one_terminal(sim, vault):
    lease = LeaseClock("test terminal")
    lease.renewed(600)
    bridge = Bridge(address(sim), call_timeout_s=5, login_timeout_s=5)
    terminal = TerminalSession(bridge, vault, lease, send_margin_s=1)
    alice, bob = _session_account(vault, ALICE), _session_account(vault, BOB)
    alice_inside, alice_done, bob_inside = threading.Event(), threading.Event(), threading.Event()
    at_alices_send: list[int] = []

    def alice_trades() -> None:
        with terminal.critical(alice):
            alice_inside.set()
            alice_done.wait(10)  # e.g. a slow order_send
            at_alices_send.append(sim_state(sim)["login"])

    def bob_trades() -> None:
        with terminal.critical(bob):
            bob_inside.set()

    threads = [threading.Thread(target=alice_trades, daemon=True)]
    threads[0].start()
    try:
        assert alice_inside.wait(10)
        threads.append(threading.Thread(target=bob_trades, daemon=True))
        threads[1].start()
        assert not bob_inside.wait(1.0)  # bob's login waits for alice's section to end
        alice_done.set()
        assert bob_inside.wait(10)
    finally:
        alice_done.set()
        for thread in threads:
            thread.join(10)
        bridge.close()
    assert at_alices_send == [ALICE["login"]]
    assert sim_state(sim)["login"] == BOB["login"]


def test_a_switched_off_account_trades_nothing(db, sim, make_account, enqueue, worker_settings):
    alice = make_account(ALICE)
    db.execute("update public.accounts set is_active = false where id = %s", (alice.id,))
    job = enqueue(alice, "order", order())
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("failed", "account_unavailable"), row
    assert "switched off" in row["error"]["message"]
    assert sim.journal() == []


def test_a_terminal_leased_by_another_worker_is_not_taken(
    db, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    db.execute(
        "insert into private.terminals (address, lease_owner, lease_expires_at)"
        " values (%s, 'another-worker', now() + interval '1 hour')",
        (address(sim),),
    )
    job = enqueue(alice, "order", order())
    with running(worker_settings(sim)) as worker:
        wait_heartbeats(db, worker.owner)
        until = time.monotonic() + 2.0  # four polls of the lane: it asks, and is refused
        while time.monotonic() < until:
            row = db.execute(
                "select status, attempts from public.jobs where id = %s", (job,)
            ).fetchone()
            assert (row["status"], row["attempts"]) == ("queued", 0), row
            time.sleep(0.1)
        owner = db.execute("select lease_owner from private.terminals").fetchone()
        assert owner["lease_owner"] == "another-worker"
        assert not worker.lanes[0].holds_terminal.is_set()
        assert sim.journal() == []
        _give_back_terminal(db)  # the other worker stopped: now it is ours
        done = wait_job(db, job)
    assert done["status"] == "succeeded", done
    assert len(sim.journal()) == 1


def test_the_heartbeat_does_not_revive_a_terminal_lease_that_lapsed(db, db_url):
    """A lapsed lease is taken again through acquire_terminal, never silently extended."""
    owner = "this-worker"
    db.execute(
        "insert into private.terminals (address, lease_owner, lease_expires_at)"
        " values ('127.0.0.1:1', %s, now() - interval '1 second')",
        (owner,),
    )
    holdings = Holdings()
    clock = LeaseClock("terminal 127.0.0.1:1")
    clock.renewed(60)  # the lane still believes in it (its clock ran fast, say)
    holdings.hold_terminal("127.0.0.1:1", clock)
    time.sleep(0.01)  # registered strictly before the beat begins
    beat = Heartbeat(db_url, owner, holdings, lease_s=30, every_s=1, stop=threading.Event())
    try:
        beat.beat()
    finally:
        assert beat._conn is not None
        beat._conn.close()
    row = db.execute("select lease_expires_at < now() as lapsed from private.terminals").fetchone()
    assert row["lapsed"]
    assert clock.remaining_s() <= 0


# -- invariant 4: at most one effect ------------------------------------------------------


def test_a_job_whose_lease_was_lost_is_not_sent(
    db, db_url, sim, make_account, enqueue, worker_settings
):
    alice = make_account(ALICE)
    with running(worker_settings(sim)) as worker:
        wait_job(db, enqueue(alice, "switch"))
        lane = worker.lanes[0]
        with lanes_held_after_the_claim(db_url):
            job = enqueue(alice, "order", order())
            wait_status(db, job, {"running"})
            db.execute(
                "update public.jobs set lease_owner = 'rescuer',"
                " lease_expires_at = now() + interval '1 hour' where id = %s",
                (job,),
            )
            wait_heartbeats(db, worker.owner)
        deadline = time.monotonic() + 20
        while lane.busy.is_set():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        row = db.execute(
            "select status, lease_owner from public.jobs where id = %s", (job,)
        ).fetchone()
    assert (row["status"], row["lease_owner"]) == ("running", "rescuer")  # left to its owner
    assert sim.journal() == []


def test_an_attempt_that_finds_the_journal_already_done_sends_nothing(
    db, sim, make_account, enqueue, vault
):
    account = make_account(ALICE)
    job = enqueue(account, "order", order())
    coid = client_order_id(job)
    intent = Intent(
        user_id=account.user_id,
        account_id=account.id,
        job_id=job,
        client_order_id=coid,
        action="open",
        symbol="EURUSD",
        side="buy",
        order_type="market",
        volume=Decimal("0.1"),
    )
    journal = Journal(db)
    # another attempt of this job journalled the order and finished it meanwhile
    assert journal.sent(intent)
    journal.outcome(account.user_id, coid, "filled", venue_order_id="4242")
    lease = LeaseClock("test")
    lease.renewed(60)
    bridge = Bridge(address(sim), call_timeout_s=5, login_timeout_s=5)
    venue = Mt5Venue(
        TerminalSession(bridge, vault, lease, send_margin_s=1), magic=1, call_timeout_s=5
    )
    stored = records.load_account(db, account.id)
    assert stored is not None
    created = db.execute("select created_at from public.jobs where id = %s", (job,)).fetchone()
    ctx = JobContext(
        conn=db,
        journal=journal,
        job=Job(
            id=job,
            user_id=account.user_id,
            account_id=account.id,
            kind=JobKind.ORDER,
            payload=order(),
            attempts=1,
            max_attempts=5,
            created_at=created["created_at"],
            rescued=False,
            claimed_at=time.monotonic(),
            deadline=Deadline(),
        ),
        account=stored,
        venue=venue,
        job_lease=lease,
        send_margin_s=1,
        verify_interval_s=60,
    )
    payload = OrderPayload.model_validate(order())
    try:
        with venue.on_account(stored) as session:
            prepared = session.prepare_order(payload, coid)
            assert isinstance(prepared, Prepared)
            outcome = send(ctx, session, prepared)
    finally:
        bridge.close()
    assert isinstance(outcome, Retry)
    assert outcome.ambiguous
    assert sim.journal() == []
    assert journal.get(account.user_id, coid).status == "filled"


def test_a_requote_that_never_clears_fails_after_max_attempts(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    set_faults(sim, next_send_retcodes=[10004] * 10)
    job = enqueue(account, "order", order(), max_attempts=3)
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["attempts"]) == ("failed", 3), row
    assert "gave up after 3 attempts" in row["error"]["message"]
    assert sim.journal() == []


def test_an_ambiguous_order_that_never_happened_is_not_resent_after_the_cap(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    set_faults(sim, next_send_retcodes=[10012] * 10)  # TIMEOUT each time; nothing executed
    job = enqueue(account, "order", order(), max_attempts=2)
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["attempts"]) == ("failed", 3), row
    assert "the terminal confirms the order was never carried out" in row["error"]["message"]
    assert sim.journal() == []
    journal = db.execute("select status from public.orders where job_id = %s", (job,)).fetchone()
    assert journal["status"] == "rejected"


def test_an_order_whose_outcome_stays_unknown_is_looked_up_until_its_own_cap_and_says_so(
    db, start_sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    job = enqueue(account, "order", order(), max_attempts=1)
    # an earlier attempt sent it and lost the answer; the terminal is gone since
    db.execute(
        "insert into public.orders (user_id, account_id, job_id, client_order_id, action,"
        " symbol, status) values (%s, %s, %s, %s, 'open', 'EURUSD', 'unknown')",
        (account.user_id, account.id, job, client_order_id(job)),
    )
    sim = start_sim()
    sim.stop()
    with running(worker_settings(sim)):
        row = wait_job(db, job, timeout_s=60)
    assert row["status"] == "failed", row
    assert row["attempts"] == 1 + AMBIGUOUS_EXTRA_ATTEMPTS  # not cut short by max_attempts
    assert "the outcome is unknown after" in row["error"]["message"]
    assert "Check the account" in row["error"]["message"]
