"""GET /v1/events against `switchyard functions` under a real uvicorn, read with httpx
streaming: each user sees only their own changes, resumption loses nothing, one LISTEN
connection serves a whole process, and polling delivers the same when LISTEN cannot."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from functions.api.runtime import Runtime
from functions.app import create_app
from switchyard.db import Connection
from switchyard.settings import Settings
from switchyard.tokens import mint_token
from tests.functions.helpers import MT5_PASSWORD, Served, bearer, mt5_body
from tests.functions.sse import Stream, listeners, listeners_become, open_stream
from tests.helpers import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

_LOGINS = iter(range(61_000_001, 61_999_999))


@dataclass(frozen=True)
class InThread:
    url: str
    runtime: Runtime


@pytest.fixture
def make_app_server(api_settings: Settings) -> Iterator[Callable[..., InThread]]:
    """A factory: `make_app_server(**settings)` → the app under a real uvicorn in a thread of
    this process (quicker to start than `make_server`'s process, and a test can look at its
    runtime)."""
    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def make(**overrides: Any) -> InThread:
        app = create_app(api_settings.model_copy(update=overrides))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, name="functions-under-test", daemon=True)
        thread.start()
        started.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return InThread(f"http://127.0.0.1:{port}", app.state.runtime)

    yield make
    for server, thread in started:
        server.should_exit = True
        thread.join(30)


def account_of(db: Connection, user: Any, name: str = "main") -> str:
    """A verified MT5 account of `user`, written as the worker would leave it."""
    row = db.execute(
        "insert into public.accounts (user_id, kind, venue, name, login, server, environment,"
        " status) values (%s, 'mt5', 'mt5', %s, %s, 'Demo-1', 'demo', 'verified') returning id",
        (user.id, name, str(next(_LOGINS))),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def rename(db: Connection, account_id: str, name: str) -> None:
    db.execute("update public.accounts set name = %s where id = %s", (name, account_id))


def trade_job(db: Connection, user: Any, account_id: str) -> str:
    """A queued market order of `user`, as the functions insert it."""
    row = db.execute(
        "insert into public.jobs (user_id, account_id, kind, payload, idempotency_key, "
        "request_hash, expires_at) values (%s, %s, 'order', %s, %s, 'h', now() + interval '30s')"
        " returning id",
        (
            user.id,
            account_id,
            json.dumps({"symbol": "EURUSD", "side": "buy", "volume": "0.10"}),
            f"key-{uuid.uuid4()}",
        ),
    ).fetchone()
    assert row is not None
    return str(row["id"])


async def ready(stream: Stream) -> str:
    first = await stream.next()
    assert first.type == "ready", first
    assert first.id is not None
    return first.id


async def test_two_users_connected_at_once_each_see_only_their_own_changes(
    make_server: Callable[..., Served], db: Connection, users: tuple[Any, Any]
) -> None:
    alice, bob = users
    server = make_server()
    alices, bobs = account_of(db, alice), account_of(db, bob)
    async with (
        open_stream(server.url, alice.token) as a_stream,
        open_stream(server.url, bob.token) as b_stream,
    ):
        await ready(a_stream)
        await ready(b_stream)
        # alice renames her account through the API; the worker finishes bob's trade
        async with httpx.AsyncClient(base_url=server.url) as api:
            renamed = await api.patch(
                f"/v1/accounts/{alices}", json={"name": "Alice's"}, headers=bearer(alice)
            )
            assert renamed.status_code == 200, renamed.text
        job = trade_job(db, bob, bobs)
        db.execute(
            "update public.jobs set status = 'failed', finished_at = now(), "
            """error = '{"code": "no_money", "message": "not enough money"}' where id = %s""",
            (job,),
        )
        (a_event,) = await a_stream.events(1, where=lambda e: e.data.get("name") == "Alice's")
        b_events = await b_stream.events(2, where=lambda e: e.type == "job")
        assert (a_event.type, a_event.subject) == ("account", alices)
        assert [(e.type, e.subject, e.data["status"]) for e in b_events] == [
            ("job", job, "queued"),
            ("job", job, "failed"),
        ]
        assert b_events[1].data["error"]["message"] == "not enough money"
        # and nothing of the other's, however long one waits
        a_seen = a_stream.seen + await a_stream.quiet_for(1.0)
        b_seen = b_stream.seen + await b_stream.quiet_for(0.2)
        assert {e.subject for e in a_seen if e.type != "comment"} == {alices}
        assert {e.subject for e in b_seen if e.type != "comment"} <= {bobs, job}


async def test_resumption_after_a_dropped_connection_loses_nothing(
    make_app_server: Callable[..., Any], db: Connection, users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_app_server()
    account = account_of(db, alice)
    async with open_stream(server.url, alice.token) as stream:
        await ready(stream)
        rename(db, account, "one")
        (seen,) = await stream.events(1, where=lambda e: e.data.get("name") == "one")
    assert seen.id is not None
    # written while nobody listens: a rename, a trade that fills, its journal row
    rename(db, account, "two")
    job = trade_job(db, alice, account)
    db.execute(
        "insert into public.orders (user_id, account_id, job_id, client_order_id, action, "
        "symbol, side, order_type, volume, status, fill_price) values "
        "(%s, %s, %s, 'sy-resume', 'open', 'EURUSD', 'buy', 'market', 0.1, 'filled', 1.085)",
        (alice.id, account, job),
    )
    fill = {"status": "filled", "order": "5001", "price": "1.08500", "volume": "0.10"}
    db.execute(
        "update public.jobs set status = 'succeeded', result = %s, finished_at = now() "
        "where id = %s",
        (json.dumps(fill), job),
    )
    async with open_stream(server.url, alice.token, last_event_id=seen.id) as stream:
        hello = await stream.next()
        assert (hello.type, hello.data) == ("ready", {"last_event_id": seen.id, "resumed": True})
        missed = await stream.events(4)
        assert [(e.type, e.subject) for e in missed[:2]] == [("account", account), ("job", job)]
        assert missed[0].data["name"] == "two"
        assert missed[1].data["status"] == "queued"
        assert (missed[2].type, missed[2].data["status"]) == ("order", "filled")
        assert (missed[3].type, missed[3].subject) == ("job", job)
        assert missed[3].data["fill"]["price"] == "1.08500"
        ids = [e.id for e in missed]
        assert len(set(ids)) == len(ids)
        assert await stream.quiet_for(0.5) == []


async def test_heartbeat_arrives_when_nothing_happens(
    make_app_server: Callable[..., Any], users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_app_server(events_heartbeat_s=0.3)
    async with open_stream(server.url, alice.token) as stream:
        await ready(stream)
        beat = await stream.next(timeout_s=3)
        assert (beat.type, beat.data) == ("comment", "heartbeat")


async def test_polling_delivers_the_same_without_listen(
    make_app_server: Callable[..., Any], db: Connection, db_url: str, users: tuple[Any, Any]
) -> None:
    alice, bob = users
    server = make_app_server(functions_listen=False, events_poll_interval_s=0.2)
    alices, bobs = account_of(db, alice), account_of(db, bob)
    async with open_stream(server.url, alice.token) as stream:
        await ready(stream)
        assert await listeners(db_url) == 0  # nothing LISTENs: the log is polled
        rename(db, bobs, "not alice's")
        rename(db, alices, "polled")
        (event,) = await stream.events(1, where=lambda e: e.data.get("name") == "polled")
        assert (event.type, event.subject) == ("account", alices)
        assert {e.subject for e in stream.seen} == {alices}
    assert event.id is not None
    rename(db, alices, "while away")
    async with open_stream(server.url, alice.token, last_event_id=event.id) as stream:
        await stream.next()  # ready
        (missed,) = await stream.events(1)
        assert missed.data["name"] == "while away"


async def test_one_listen_connection_serves_every_client_of_a_process(
    make_server: Callable[..., Served], db: Connection, db_url: str, users: tuple[Any, Any]
) -> None:
    alice, bob = users
    first, second = make_server(), make_server()
    account = account_of(db, alice)
    async with (
        open_stream(first.url, alice.token) as s1,
        open_stream(first.url, alice.token) as s2,
        open_stream(first.url, bob.token) as s3,
        open_stream(first.url, bob.token) as s4,
        open_stream(second.url, alice.token) as s5,
        open_stream(second.url, bob.token) as s6,
    ):
        for stream in (s1, s2, s3, s4, s5, s6):
            await ready(stream)
        # one per process: the two processes, whatever the number of streams
        assert await listeners_become(db_url, 2) == 2
        rename(db, account, "everywhere")
        for stream in (s1, s2, s5):
            await stream.events(1, where=lambda e: e.data.get("name") == "everywhere")
        assert await listeners(db_url) == 2


async def test_an_expired_token_ends_the_stream(
    make_app_server: Callable[..., Any], settings: Settings, users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_app_server(jwt_leeway_s=0, events_heartbeat_s=0.5)
    token = mint_token(settings, alice.id, alice.email, ttl_s=5)
    async with open_stream(server.url, token) as stream:
        await ready(stream)
        (end,) = await stream.events(1, timeout_s=10, where=lambda e: e.type == "end")
        assert end.data["reason"] == "expired"
        with pytest.raises(EOFError):
            await stream.next(timeout_s=5)
    async with httpx.AsyncClient(base_url=server.url) as api:
        again = await api.get("/v1/events", headers={"authorization": f"Bearer {token}"})
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"


async def test_a_client_too_far_behind_is_ended_and_catches_up_with_last_event_id(
    make_app_server: Callable[..., Any], db: Connection, users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_app_server(events_queue_size=3)
    account = account_of(db, alice)
    async with open_stream(server.url, alice.token) as stream:
        start = await ready(stream)
        with db.transaction():  # eight events at once: more than the queue holds
            for n in range(8):
                rename(db, account, f"burst {n}")
        (end,) = await stream.events(1, where=lambda e: e.type == "end")
        assert end.data["reason"] == "overflow"
        with pytest.raises(EOFError):
            await stream.next()
    async with open_stream(server.url, alice.token, last_event_id=start) as stream:
        await stream.next()  # ready
        burst = await stream.events(8, where=lambda e: e.data["name"].startswith("burst"))
        assert [e.data["name"] for e in burst] == [f"burst {n}" for n in range(8)]


async def test_a_malformed_last_event_id_is_refused(
    make_app_server: Callable[..., Any], users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_app_server()
    async with httpx.AsyncClient(base_url=server.url) as api:
        for bad in ("12", "x-1", "1-2-3", "99999999999999999999999-1"):
            answer = await api.get("/v1/events", headers={**bearer(alice), "last-event-id": bad})
            assert answer.status_code == 422, bad
            assert answer.headers["content-type"] == "application/problem+json"
            assert "Last-Event-ID" in answer.json()["detail"]


async def test_a_resumption_from_before_the_pruned_part_of_the_log_is_told_to_reload(
    make_app_server: Callable[..., Any], db: Connection, users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_app_server()
    account = account_of(db, alice)
    async with open_stream(server.url, alice.token) as stream:
        start = await ready(stream)
        rename(db, account, "old news")
        await stream.events(1, where=lambda e: e.data.get("name") == "old news")
    db.execute("update public.events set created_at = now() - interval '2 days'")
    pruned = db.execute("select private.prune_events(100) as n").fetchone()
    assert pruned is not None
    assert pruned["n"] >= 2
    rename(db, account, "after the prune")
    async with open_stream(server.url, alice.token, last_event_id=start) as stream:
        reset = await stream.next()
        assert reset.type == "reset"
        assert reset.id == reset.data["last_event_id"]
        # nothing older than its id is replayed (a change committed a moment before the
        # stream connected may come, as on any fresh stream)
        later = await stream.quiet_for(0.5)
        assert all(e.data.get("name") == "after the prune" for e in later), later


async def test_events_carry_what_the_api_shows_and_never_a_credential(
    make_app_server: Callable[..., Any], db: Connection, users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_app_server()
    async with open_stream(server.url, alice.token) as stream:
        await ready(stream)
        async with httpx.AsyncClient(base_url=server.url) as api:
            connect = await api.post(
                "/v1/accounts",
                params={"wait": 0},
                json=mt5_body(login=next(_LOGINS)),
                headers=bearer(alice),
            )
            assert connect.status_code == 202, connect.text
            account = connect.json()["account"]["id"]
            deleted = await api.delete(f"/v1/accounts/{account}", headers=bearer(alice))
            assert deleted.status_code == 204
        got = await stream.events(4)
        kinds = [(e.type, e.data.get("status")) for e in got]
        assert kinds[0] == ("account", "pending")
        assert ("job", "queued") in kinds
        assert ("job", "cancelled") in kinds  # the verify job, with its account gone
        assert got[-1].type == "account"
        assert got[-1].data == {"id": account, "deleted": True}
        first = got[0].data
        assert first["login"] is not None
        assert "password" not in first
        job = next(e.data for e in got if e.type == "job")
        assert set(job) >= {"id", "kind", "status", "account_id", "created_at", "links"}
        assert "payload" not in job
        assert "result" not in job
        assert "idempotency_key" not in job
        assert "request_hash" not in job
    everything = "\n".join(stream.text)
    assert MT5_PASSWORD not in everything
    assert "gAAAAA" not in everything


async def test_a_trade_event_has_the_fill_the_trades_api_shows(
    make_app_server: Callable[..., Any], db: Connection, users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_app_server()
    account = account_of(db, alice)
    job = trade_job(db, alice, account)
    async with open_stream(server.url, alice.token) as stream:
        await ready(stream)
        fill = {"status": "filled", "order": "5001", "position": "5001", "price": "1.08512"}
        db.execute(
            "update public.jobs set status = 'succeeded', result = %s, finished_at = now() "
            "where id = %s",
            (json.dumps(fill), job),
        )
        (event,) = await stream.events(1, where=lambda e: e.data.get("status") == "succeeded")
        async with httpx.AsyncClient(base_url=server.url) as api:
            trade = (await api.get(f"/v1/trades/{job}", headers=bearer(alice))).json()
    assert event.data["fill"] == trade["fill"]
    assert event.data["payload"] == trade["payload"]
    assert event.data["client_order_id"] == trade["client_order_id"]
    assert "journal" not in event.data


async def test_streams_that_end_leave_nothing_behind(
    make_app_server: Callable[..., Any], db: Connection, users: tuple[Any, Any]
) -> None:
    alice, bob = users
    server = make_app_server()
    url, runtime = server.url, server.runtime
    account = account_of(db, alice)
    async with (
        open_stream(url, alice.token) as one,
        open_stream(url, alice.token) as two,
        open_stream(url, bob.token) as three,
    ):
        for stream in (one, two, three):
            await ready(stream)
        assert runtime.events.clients == 3
        assert set(runtime.events.feeds) == {alice.id, bob.id}
        tasks = [feed.task for feed in runtime.events.feeds.values()]
    # the clients went away without a word: their queues, feeds and tasks go too
    for _ in range(100):
        if runtime.events.clients == 0 and not runtime.events.feeds:
            break
        await asyncio.sleep(0.05)
    assert runtime.events.clients == 0
    assert runtime.events.feeds == {}
    for _ in range(100):
        if all(task.done() for task in tasks):
            break
        await asyncio.sleep(0.05)
    assert all(task.done() for task in tasks)
    rename(db, account, "nobody listens")  # and a change for nobody costs nothing
    await asyncio.sleep(0.2)
    assert runtime.events.feeds == {}


async def test_a_stopping_server_ends_its_streams_instead_of_waiting_for_them(
    make_server: Callable[..., Served], users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_server()
    async with open_stream(server.url, alice.token) as stream:
        await ready(stream)
        stopping = asyncio.create_task(asyncio.to_thread(server.stop))  # SIGINT, as Ctrl-C
        (end,) = await stream.events(1, timeout_s=20, where=lambda e: e.type == "end")
        assert end.data["reason"] == "shutdown"
        log = await asyncio.wait_for(stopping, 30)
    assert "Finished server process" in log  # it stopped, the stream's client still there


async def test_a_stream_ends_for_renewal_however_long_its_token_lasts(
    make_app_server: Callable[..., Any], users: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, _ = users  # a token valid for an hour
    monkeypatch.setattr("functions.api.routes.events.MAX_STREAM_S", 1.0)
    server = make_app_server()
    async with open_stream(server.url, alice.token) as stream:
        await ready(stream)
        (end,) = await stream.events(1, timeout_s=5, where=lambda e: e.type == "end")
        assert end.data["reason"] == "renew"
        with pytest.raises(EOFError):
            await stream.next(timeout_s=5)


async def test_an_api_token_streams_with_scope_read_and_its_revocation_ends_the_stream(
    make_app_server: Callable[..., Any], db: Connection, users: tuple[Any, Any]
) -> None:
    alice, _ = users
    server = make_app_server(events_heartbeat_s=0.3)
    account = account_of(db, alice)
    async with httpx.AsyncClient(base_url=server.url) as api:
        tokens = {}
        for scope in ("read", "trade"):
            made = await api.post(
                "/v1/api-tokens", json={"name": scope, "scopes": [scope]}, headers=bearer(alice)
            )
            assert made.status_code == 201, made.text
            tokens[scope] = made.json()
        refused = await api.get(
            "/v1/events", headers={"authorization": f"Bearer {tokens['trade']['token']}"}
        )
        assert refused.status_code == 403
        assert refused.json()["required_scope"] == "read"
        async with open_stream(server.url, tokens["read"]["token"]) as stream:
            await ready(stream)
            rename(db, account, "by a script's stream")
            await stream.events(1, where=lambda e: e.data.get("name") == "by a script's stream")
            revoked = await api.delete(
                f"/v1/api-tokens/{tokens['read']['id']}", headers=bearer(alice)
            )
            assert revoked.status_code == 204
            (end,) = await stream.events(1, timeout_s=5, where=lambda e: e.type == "end")
            assert end.data["reason"] == "revoked"
            with pytest.raises(EOFError):
                await stream.next(timeout_s=5)
    assert tokens["read"]["token"] not in "\n".join(stream.text)
