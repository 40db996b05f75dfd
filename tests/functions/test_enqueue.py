"""`private.enqueue_job` answers a racing Idempotency-Key with the first job, and nothing else.

Its unique-violation handler once caught every unique violation, including one raised by
the audit trigger of the job insert: the insert was rolled back, yet its id had already
been returned, so the client was handed a job id that does not exist.
"""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest

from functions.app import create_app
from switchyard.db import as_role, connect
from tests.functions.helpers import bearer, client_of, connected_account

pytestmark = pytest.mark.anyio

BUY = {"symbol": "EURUSD", "side": "buy", "volume": "0.10"}
ENQUEUE = (
    "select * from private.enqueue_job(%(account_id)s, 'order', %(payload)s::jsonb, "
    "%(key)s, 'sha256:x', %(ttl_s)s)"
)


def _break_the_audit_sequence(db) -> None:
    """What `select setval(...)` on the audit sequence does: the next audit row collides
    with row 1 (a sequence is not rolled back, so this is needed before each attempt)."""
    db.execute("select setval(pg_get_serial_sequence('public.audit_log', 'id'), 1, false)")


def _params(account_id, key=None):
    return {"account_id": account_id, "payload": json.dumps(BUY), "key": key, "ttl_s": 30}


async def test_a_unique_violation_in_the_audit_trigger_is_an_error_not_a_phantom_job(
    client, users, verdicts, db, api_settings
):
    alice, _ = users
    await connected_account(client, verdicts, alice)
    app = create_app(api_settings)
    async with client_of(app, raise_app_exceptions=False) as unguarded:
        answers = []
        for headers in (bearer(alice), {**bearer(alice), "idempotency-key": '"k-1"'}):
            _break_the_audit_sequence(db)
            answers.append(
                await unguarded.post("/v1/trades", json=BUY, params={"wait": 0}, headers=headers)
            )
    for response in answers:
        assert response.status_code == 500, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:switchyard:problem:internal"
        assert "job" not in response.json()
        assert "location" not in response.headers
    assert (
        db.execute("select count(*) as n from public.jobs where kind = 'order'").fetchone()["n"]
        == 0
    )


def test_enqueue_job_reraises_a_violation_of_any_other_constraint(db, make_user, db_url):
    alice = make_user("alice@example.com")
    account = db.execute(
        "insert into public.accounts (user_id, kind, venue, name, login, server, environment, "
        "status, is_default) values (%s, 'mt5', 'mt5', 'main', '1001', 'Demo', 'demo', "
        "'verified', true) returning id",
        (alice.id,),
    ).fetchone()["id"]
    with connect(db_url, autocommit=True) as conn:
        for key in (None, "k-2"):
            _break_the_audit_sequence(db)
            with (
                pytest.raises(psycopg.errors.UniqueViolation) as caught,
                as_role(conn, "authenticated", alice.claims) as cur,
            ):
                cur.execute(ENQUEUE, _params(account, key))
            assert caught.value.diag.constraint_name == "audit_log_pkey"
    assert db.execute("select count(*) as n from public.jobs").fetchone()["n"] == 0


def test_a_racing_idempotency_key_still_answers_the_first_job(db, make_user, db_url):
    """Two requests with one key, the second waiting behind the first: it gets the first."""
    alice = make_user("alice@example.com")
    account = db.execute(
        "insert into public.accounts (user_id, kind, venue, name, login, server, environment, "
        "status, is_default) values (%s, 'mt5', 'mt5', 'main', '1001', 'Demo', 'demo', "
        "'verified', true) returning id",
        (alice.id,),
    ).fetchone()["id"]
    second: dict[str, object] = {}

    def enqueue_second() -> None:
        with (
            connect(db_url, autocommit=True, application="second") as conn,
            as_role(conn, "authenticated", alice.claims) as cur,
        ):
            cur.execute(ENQUEUE, _params(account, "race"))
            second["row"] = cur.fetchone()

    with (
        connect(db_url, autocommit=True) as conn,
        as_role(conn, "authenticated", alice.claims) as cur,
    ):
        cur.execute(ENQUEUE, _params(account, "race"))
        first = cur.fetchone()
        assert first is not None
        assert first["replayed"] is False
        thread = threading.Thread(target=enqueue_second)
        thread.start()
        # wait until the second request is blocked on the first one's uncommitted key
        for _ in range(500):
            waiting = db.execute(
                "select count(*) as n from pg_stat_activity "
                "where application_name = 'second' and wait_event_type = 'Lock'"
            ).fetchone()["n"]
            if waiting:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the second enqueue never waited on the first one's key")
    thread.join(timeout=30)
    assert not thread.is_alive()
    row = second["row"]
    assert row is not None
    assert row["job_id"] == first["job_id"]
    assert row["replayed"] is True
    assert db.execute("select count(*) as n from public.jobs").fetchone()["n"] == 1
