"""The event log behind GET /v1/events, in SQL: written by triggers for every writer,
read in commit order (a late commit is never skipped), only by its owner, and pruned."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from switchyard.db import Connection, as_role, connect
from switchyard.queries import queries

AFTER_ALL = {"xact_id": 0, "id": 0, "until_xact_id": None, "until_id": None, "limit": 100}


def user(db: Connection, email: str) -> uuid.UUID:
    uid = uuid.uuid4()
    db.execute("insert into auth.users (id, email) values (%s, %s)", (uid, email))
    return uid


def account(db: Connection, owner: uuid.UUID, login: str) -> Any:
    row = db.execute(
        "insert into public.accounts (user_id, kind, venue, name, login, server, environment) "
        "values (%s, 'mt5', 'mt5', 'main', %s, 'Demo-1', 'demo') returning id",
        (owner, login),
    ).fetchone()
    assert row is not None
    return row["id"]


def read(functions_db_url: str, owner: uuid.UUID, **params: Any) -> list[dict[str, Any]]:
    """api_events_after as `owner`, through the functions' login role."""
    claims = {"sub": str(owner), "role": "authenticated"}
    with (
        connect(functions_db_url, autocommit=True) as conn,
        as_role(conn, "authenticated", claims) as cur,
    ):
        cur.execute(queries["api_events_after"], {**AFTER_ALL, **params})
        return cur.fetchall()


def test_an_event_committed_late_is_not_skipped_by_a_reader_that_saw_a_later_one(
    db: Connection, db_url: str, functions_db_url: str
) -> None:
    alice = user(db, "alice@example.com")
    acc = account(db, alice, "1001")
    base = len(read(functions_db_url, alice))
    with connect(db_url) as slow:  # a transaction that wrote first and commits last
        slow.execute("update public.accounts set name = 'first' where id = %s", (acc,))
        db.execute(
            "insert into public.jobs (user_id, account_id, kind) values (%s, %s, 'sync')",
            (alice, acc),
        )
        rows = read(functions_db_url, alice)[base:]
        # committed, but an older transaction still runs: not final, so not delivered yet
        assert [(r["type"], r["final"]) for r in rows] == [("job", False)]
        slow.commit()
    # final once no older transaction runs (on a shared server, another test's may)
    for _ in range(200):
        rows = read(functions_db_url, alice)[base:]
        if all(r["final"] for r in rows):
            break
        time.sleep(0.05)
    assert [(r["type"], r["final"]) for r in rows] == [("account", True), ("job", True)]
    assert rows[0]["data"]["name"] == "first"


def test_only_the_owner_reads_their_events(db: Connection, functions_db_url: str) -> None:
    alice, bob = user(db, "alice@example.com"), user(db, "bob@example.com")
    account(db, alice, "1001")
    account(db, bob, "2002")
    mine = read(functions_db_url, alice)
    assert mine
    assert {r["data"]["login"] for r in mine} == {"1001"}
    assert {r["data"]["login"] for r in read(functions_db_url, bob)} == {"2002"}


def test_bookkeeping_writes_no_event(db: Connection) -> None:
    alice = user(db, "alice@example.com")
    acc = account(db, alice, "1001")
    job = db.execute(
        "insert into public.jobs (user_id, account_id, kind, status, lease_owner, "
        "lease_expires_at, started_at) values (%s, %s, 'sync', 'running', 'w', now(), now()) "
        "returning id",
        (alice, acc),
    ).fetchone()
    assert job is not None
    count = "select count(*) as n from public.events where user_id = %s"
    before = db.execute(count, (alice,)).fetchone()
    db.execute(
        "update public.jobs set lease_expires_at = now() + interval '30 s' where id = %s",
        (job["id"],),
    )
    db.execute(
        "update public.accounts set next_sync_at = now(), next_verify_at = now() where id = %s",
        (acc,),
    )
    assert db.execute(count, (alice,)).fetchone() == before


def test_a_deleted_user_takes_their_events_along(db: Connection) -> None:
    alice = user(db, "alice@example.com")
    db.execute(
        "insert into public.jobs (user_id, kind, venue) values (%s, 'sync', 'mt5')", (alice,)
    )
    count = "select count(*) as n from public.events where user_id = %s"
    assert db.execute(count, (alice,)).fetchone() == {"n": 1}
    db.execute("delete from auth.users where id = %s", (alice,))
    assert db.execute(count, (alice,)).fetchone() == {"n": 0}


def test_pruning_deletes_only_old_events_and_marks_how_far_it_went(db: Connection) -> None:
    alice = user(db, "alice@example.com")
    acc = account(db, alice, "1001")
    db.execute("update public.events set created_at = now() - interval '25 hours'")
    old = db.execute(
        "select xact_id::text || '-' || id::text as cursor from public.events "
        "order by xact_id desc, id desc limit 1"
    ).fetchone()
    assert old is not None
    db.execute("update public.accounts set name = 'fresh' where id = %s", (acc,))
    assert db.execute("select private.event_horizon() as h").fetchone() == {"h": None}
    assert db.execute("select private.prune_events(1) as n").fetchone() == {"n": 1}
    assert db.execute("select private.prune_events(5000) as n").fetchone() == {"n": 0}
    left = db.execute("select data from public.events where user_id = %s", (alice,)).fetchall()
    assert [r["data"]["name"] for r in left] == ["fresh"]
    assert db.execute("select private.event_horizon() as h").fetchone() == {"h": old["cursor"]}


def test_the_worker_scheduler_prunes_with_its_own_query(db: Connection, db_url: str) -> None:
    from worker.schedule import prune_events

    alice = user(db, "alice@example.com")
    account(db, alice, "1001")
    db.execute("update public.events set created_at = now() - interval '2 days'")
    with connect(db_url, autocommit=True) as conn:
        assert prune_events(conn) == 1
        assert prune_events(conn) == 0


def test_job_events_hold_no_request_fingerprints_and_trades_their_request(
    db: Connection,
) -> None:
    alice = user(db, "alice@example.com")
    acc = account(db, alice, "1001")
    db.execute(
        "insert into public.jobs (user_id, account_id, kind, payload, idempotency_key, "
        "request_hash) values (%s, %s, 'order', %s, 'my-key', 'h4sh'), "
        "(%s, %s, 'verify', '{\"x\": 1}', null, null)",
        (alice, acc, json.dumps({"symbol": "EURUSD"}), alice, acc),
    )
    rows = db.execute("select data from public.events where type = 'job' order by id").fetchall()
    order, verify = (r["data"] for r in rows)
    assert order["payload"] == {"symbol": "EURUSD"}
    assert verify["payload"] is None
    for data in (order, verify):
        assert not {"idempotency_key", "request_hash", "lease_owner"} & set(data)
        assert "my-key" not in json.dumps(data)


def test_one_insert_of_many_jobs_tells_each_job_and_wakes_once(db: Connection, db_url: str) -> None:
    """The insert triggers run once per statement (a signal's fan-out inserts a job per
    subscriber): an event per job in insert order, one NOTIFY per user, one wake-up per
    venue for the worker, and a done notice for a job inserted already final."""
    alice, bob = user(db, "alice@example.com"), user(db, "bob@example.com")
    acc_a, acc_b = account(db, alice, "1001"), account(db, bob, "2002")
    with connect(db_url, autocommit=True) as listener:
        for channel in ("switchyard_jobs", "switchyard_events", "switchyard_job_done"):
            listener.execute(f"listen {channel}")
        rows = db.execute(
            "insert into public.jobs (user_id, account_id, kind, status, finished_at, error) "
            "values (%s, %s, 'sync', 'queued', null, null), "
            "(%s, %s, 'verify', 'queued', null, null), (%s, %s, 'sync', 'queued', null, null), "
            "(%s, %s, 'sync', 'failed', now(), '{\"code\": \"x\"}') "
            "returning id, status",
            (alice, acc_a, bob, acc_b, alice, acc_a, bob, acc_b),
        ).fetchall()
        heard = [(n.channel, n.payload) for n in listener.notifies(timeout=1.0, stop_after=5)]
    ids = [r["id"] for r in rows]
    told = db.execute(
        "select user_id, subject_id, data from public.events where type = 'job' order by id"
    ).fetchall()
    assert [t["subject_id"] for t in told] == ids
    assert [t["user_id"] for t in told] == [alice, bob, alice, bob]
    assert [t["data"]["status"] for t in told] == ["queued", "queued", "queued", "failed"]
    assert sorted(heard) == sorted(
        [
            ("switchyard_jobs", "mt5"),  # the venue: only its lanes wake
            ("switchyard_events", str(alice)),
            ("switchyard_events", str(bob)),
            ("switchyard_job_done", str(ids[3])),
        ]
    )
