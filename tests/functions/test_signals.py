"""Signal channels, subscriptions and the TradingView webhook, through the HTTP API.

No worker runs here: the webhook's answer and the rows it leaves are the subject (the
worker's side, sizing and execution on the simulated terminal, is tests/worker/test_signals.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.functions.helpers import bearer, connected_account

pytestmark = pytest.mark.anyio


async def channel_of(client: Any, user: Any, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/signal-channels", json={"name": "Gold breakout", **body}, headers=bearer(user)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def subscribe(
    client: Any, user: Any, channel: dict[str, Any], account: dict[str, Any], **settings: Any
) -> dict[str, Any]:
    body = {
        "channel_id": channel["id"],
        "account_id": account["id"],
        "sizing": {"mode": "fixed", "volume": 0.01},
        "symbols": {"EURUSD": "EURUSD"},
        **settings,
    }
    response = await client.post("/v1/subscriptions", json=body, headers=bearer(user))
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def webhook(channel: dict[str, Any]) -> str:
    return "/v1/signals/" + channel["id"]


def alert(channel: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"secret": channel["secret"], "action": "buy", "symbol": "EURUSD", **fields}


def signal_jobs(db: Any) -> list[dict[str, Any]]:
    return db.execute(
        "select * from public.jobs where kind = 'signal' order by created_at, id"
    ).fetchall()


@pytest.fixture
async def two_subscribers(client, users, verdicts):
    """Alice's public channel; her account and bob's subscribed with different sizing."""
    alice, bob = users
    mine = await connected_account(client, verdicts, alice, login=61_000_001)
    his = await connected_account(client, verdicts, bob, login=61_000_002)
    channel = await channel_of(client, alice, public=True)
    own = await subscribe(client, alice, channel, mine)
    other = await subscribe(
        client,
        bob,
        channel,
        his,
        sizing={"mode": "balance_pct", "percent": 2},
        leverage=10,
        symbols={"EURUSD": "EURUSD", "FX:GBPUSD": "GBPUSD"},
    )
    return channel, (mine, own), (his, other)


async def test_a_channel_shows_its_secret_once_and_stores_only_its_hash(client, users, db):
    alice, _ = users
    channel = await channel_of(client, alice, public=True)
    assert channel["secret"].startswith("sysig_")
    assert len(channel["secret"]) > 40
    assert channel["webhook_url"] == f"http://functions.test/v1/signals/{channel['id']}"
    assert channel["public"] is True
    assert channel["name"] == "Gold breakout"
    stored = db.execute(
        "select secret_hash from private.signal_channel_secrets where channel_id = %s",
        (channel["id"],),
    ).fetchone()
    assert bytes(stored["secret_hash"]) == hashlib.sha256(channel["secret"].encode()).digest()
    read = await client.get(f"/v1/signal-channels/{channel['id']}", headers=bearer(alice))
    listed = await client.get("/v1/signal-channels", headers=bearer(alice))
    for text in (read.text, listed.text):
        assert channel["secret"] not in text
    assert read.json()["deliveries"] == 0


async def test_one_alert_queues_one_signal_job_per_subscribed_account(
    client, users, db, two_subscribers
):
    alice, bob = users
    channel, (mine, _own), (his, other) = two_subscribers
    response = await client.post(webhook(channel), json=alert(channel, id="alert-123", sl="1.05"))
    assert response.status_code == 202, response.text
    assert response.json() == {"queued": 2, "skipped": 0}
    jobs = signal_jobs(db)
    assert {str(j["account_id"]) for j in jobs} == {mine["id"], his["id"]}
    assert len(jobs) == 2
    by_account = {str(j["account_id"]): j for j in jobs}
    assert by_account[mine["id"]]["payload"]["sizing"] == {"mode": "fixed", "volume": "0.01"}
    assert by_account[his["id"]]["payload"]["sizing"] == {"mode": "balance_pct", "percent": "2"}
    assert by_account[his["id"]]["payload"]["leverage"] == 10
    assert all(j["venue"] == "mt5" and j["expires_at"] is not None for j in jobs)
    # each owner sees their trade, naming the signal and their subscription
    trades = (await client.get("/v1/trades", headers=bearer(bob))).json()["items"]
    assert [(t["kind"], t["subscription_id"], t["account_id"]) for t in trades] == [
        ("signal", other["id"], his["id"])
    ]
    assert trades[0]["signal_id"] == str(jobs[0]["signal_id"])
    assert trades[0]["payload"]["sl"] == "1.05"
    # the audit log of each owner records the trade request
    audited = db.execute(
        "select user_id, job_id, ip, user_agent from public.audit_log "
        "where action = 'trade.requested' and detail ->> 'signal_id' is not null"
    ).fetchall()
    assert sorted(str(r["user_id"]) for r in audited) == sorted([str(alice.id), str(bob.id)])
    assert {r["job_id"] for r in audited} == {j["id"] for j in jobs}
    # the address and agent the functions vouch for, as write_audit records them
    assert {(str(r["ip"]), r["user_agent"]) for r in audited} == {
        ("203.0.113.7", "switchyard-tests/1")
    }
    # the owner sees counts, never who subscribes
    mine_view = await client.get(f"/v1/signal-channels/{channel['id']}", headers=bearer(alice))
    assert mine_view.json()["deliveries"] == 1
    assert mine_view.json()["queued"] == 2
    assert his["id"] not in mine_view.text
    assert other["id"] not in mine_view.text
    assert his["id"] not in response.text


async def test_a_wrong_or_missing_secret_is_401_with_an_audit_row_and_no_job(
    client, users, db, two_subscribers
):
    alice, _ = users
    channel, *_ = two_subscribers
    wrong = await client.post(webhook(channel), json=alert(channel, secret="sysig_guess"))
    missing = await client.post(webhook(channel), json={"action": "buy", "symbol": "EURUSD"})
    empty = await client.post(webhook(channel), content=b"")
    for response in (wrong, missing, empty):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "secret" in response.json()["detail"]
        assert "www-authenticate" not in response.headers
    assert signal_jobs(db) == []
    assert db.execute("select count(*) as n from public.signals").fetchone()["n"] == 0
    rows = db.execute(
        "select user_id, detail, ip from public.audit_log where action = 'signal.rejected' "
        "order by id"
    ).fetchall()
    assert [r["detail"]["reason"] for r in rows] == ["wrong secret", "no secret", "no secret"]
    assert {str(r["user_id"]) for r in rows} == {str(alice.id)}
    assert str(rows[0]["ip"]) == "203.0.113.7"
    assert "sysig_guess" not in json.dumps([r["detail"] for r in rows])


async def test_an_unknown_channel_answers_exactly_like_a_wrong_secret(client, two_subscribers):
    channel, *_ = two_subscribers
    unknown = await client.post(
        "/v1/signals/00000000-0000-0000-0000-000000000000", json=alert(channel)
    )
    wrong = await client.post(webhook(channel), json=alert(channel, secret="nope"))
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]


async def test_a_replayed_alert_fans_out_once(client, db, two_subscribers):
    channel, *_ = two_subscribers
    first = await client.post(webhook(channel), json=alert(channel, id="a-1"))
    again = await client.post(webhook(channel), json=alert(channel, id="a-1", price="1.2"))
    assert first.json() == again.json() == {"queued": 2, "skipped": 0}
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # no id: the same body within the window is the same alert; another body is not
    body = alert(channel, action="sell")
    await client.post(webhook(channel), json=body)
    resent = await client.post(webhook(channel), json=body)
    assert resent.headers["idempotent-replayed"] == "true"
    other = await client.post(webhook(channel), json={**body, "sl": "1.3"})
    assert "idempotent-replayed" not in other.headers
    assert len(signal_jobs(db)) == 6
    assert db.execute("select count(*) as n from public.signals").fetchone()["n"] == 3


async def test_a_text_plain_body_is_read_as_json(client, db, two_subscribers):
    channel, *_ = two_subscribers
    response = await client.post(
        webhook(channel),
        content=json.dumps(alert(channel, action="close_long")).encode(),
        headers={"content-type": "text/plain; charset=utf-8"},
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"queued": 2, "skipped": 0}
    assert {j["payload"]["action"] for j in signal_jobs(db)} == {"close_long"}


async def test_an_unmapped_symbol_is_skipped_with_its_reason_for_the_subscriber_only(
    client, users, db, two_subscribers
):
    alice, bob = users
    channel, (_mine, own), (his, _other) = two_subscribers
    # only bob maps FX:GBPUSD; TradingView's exchange prefix also matches a bare key
    response = await client.post(webhook(channel), json=alert(channel, symbol="FX:GBPUSD"))
    assert response.json() == {"queued": 1, "skipped": 1}
    (job,) = signal_jobs(db)
    assert str(job["account_id"]) == his["id"]
    assert job["payload"]["symbol"] == "GBPUSD"
    prefixed = await client.post(webhook(channel), json=alert(channel, symbol="OANDA:EURUSD"))
    assert prefixed.json() == {"queued": 2, "skipped": 0}
    mine_now = (await client.get(f"/v1/subscriptions/{own['id']}", headers=bearer(alice))).json()
    assert [(d["status"], d["reason"]) for d in mine_now["recent"]] == [
        ("queued", None),
        ("skipped", "symbol_not_mapped"),
    ]
    assert mine_now["recent"][1]["job_id"] is None
    # the list (one statement for all subscriptions) says the same as the single read
    listed = (await client.get("/v1/subscriptions", headers=bearer(alice))).json()
    assert [s["id"] for s in listed] == [own["id"]]
    assert listed[0]["recent"] == mine_now["recent"]
    # bob cannot read alice's subscription, nor she his
    assert (
        await client.get(f"/v1/subscriptions/{own['id']}", headers=bearer(bob))
    ).status_code == 404
    assert [
        s["id"] for s in (await client.get("/v1/subscriptions", headers=bearer(alice))).json()
    ] == [own["id"]]


async def test_auto_trade_off_queues_no_job_and_says_so(client, users, db, two_subscribers):
    _, bob = users
    channel, (mine, _own), (_his, other) = two_subscribers
    patched = await client.patch(
        f"/v1/subscriptions/{other['id']}", json={"auto_trade": False}, headers=bearer(bob)
    )
    assert patched.status_code == 200
    assert patched.json()["auto_trade"] is False
    response = await client.post(webhook(channel), json=alert(channel))
    assert response.json() == {"queued": 1, "skipped": 1}
    assert [str(j["account_id"]) for j in signal_jobs(db)] == [mine["id"]]
    recent = (await client.get(f"/v1/subscriptions/{other['id']}", headers=bearer(bob))).json()
    assert [(d["status"], d["reason"]) for d in recent["recent"]] == [("skipped", "auto_trade_off")]


async def test_min_confidence_and_max_open_positions_skip_before_any_job(
    client, users, db, two_subscribers
):
    alice, bob = users
    channel, (_mine, own), (his, other) = two_subscribers
    await client.patch(
        f"/v1/subscriptions/{own['id']}", json={"min_confidence": 70}, headers=bearer(alice)
    )
    await client.patch(
        f"/v1/subscriptions/{other['id']}", json={"max_open_positions": 1}, headers=bearer(bob)
    )
    db.execute(
        "insert into public.positions (user_id, account_id, venue_position_id, symbol, side, "
        "volume, open_price) values (%s, %s, '1', 'EURUSD', 'buy', 0.1, 1.1)",
        (bob.id, his["id"]),
    )
    low = await client.post(webhook(channel), json=alert(channel, confidence=50))
    assert low.json() == {"queued": 0, "skipped": 2}
    reasons = db.execute("select reason from public.signal_skips order by reason").fetchall()
    assert [r["reason"] for r in reasons] == ["max_open_positions", "min_confidence"]
    # a close is not an opening: max_open_positions does not hold it back
    close = await client.post(webhook(channel), json=alert(channel, action="close", confidence=90))
    assert close.json() == {"queued": 2, "skipped": 0}


async def test_rotating_the_secret_retires_the_old_one(client, users, two_subscribers):
    alice, bob = users
    channel, *_ = two_subscribers
    rotated = await client.post(
        f"/v1/signal-channels/{channel['id']}/rotate", headers=bearer(alice)
    )
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != channel["secret"]
    assert new.startswith("sysig_")
    old = await client.post(webhook(channel), json=alert(channel))
    assert old.status_code == 401
    fresh = await client.post(webhook(channel), json={**alert(channel), "secret": new})
    assert fresh.status_code == 202
    theirs = await client.post(f"/v1/signal-channels/{channel['id']}/rotate", headers=bearer(bob))
    assert theirs.status_code == 404


async def test_a_bad_alert_is_422_with_the_secret_and_401_without(client, db, two_subscribers):
    channel, *_ = two_subscribers
    bad = await client.post(webhook(channel), json=alert(channel, action="hold", size="-1"))
    assert bad.status_code == 422, bad.text
    assert {e["field"] for e in bad.json()["errors"]} == {"action", "size"}
    assert channel["secret"] not in bad.text
    unauthenticated = await client.post(webhook(channel), json={"action": "hold"})
    assert unauthenticated.status_code == 401
    malformed = await client.post(webhook(channel), content=b"buy EURUSD now")
    assert malformed.status_code == 400
    twice = await client.post(
        webhook(channel),
        content=b'{"secret": "a", "secret": "b"}',
        headers={"content-type": "text/plain"},
    )
    assert twice.status_code == 400
    assert twice.json()["key"] == "secret"
    assert signal_jobs(db) == []


async def test_the_webhook_is_rate_limited_per_channel(make_client, users, verdicts, db):
    alice, _ = users
    client = await make_client(signal_rate_limit_per_minute=2)
    account = await connected_account(client, verdicts, alice)
    channel = await channel_of(client, alice)
    other = await channel_of(client, alice, name="Other")
    await subscribe(client, alice, channel, account)
    answers = [
        (await client.post(webhook(channel), json=alert(channel, id=f"r-{i}"))).status_code
        for i in range(3)
    ]
    assert answers == [202, 202, 429]
    limited = await client.post(webhook(channel), json=alert(channel, id="r-9"))
    assert int(limited.headers["retry-after"]) >= 1
    assert (await client.post(webhook(other), json=alert(other))).status_code == 202
    assert len(signal_jobs(db)) == 2


async def test_subscribing_needs_your_own_account_and_a_channel_you_may_see(
    client, users, verdicts
):
    alice, bob = users
    mine = await connected_account(client, verdicts, alice, login=62_000_001)
    his = await connected_account(client, verdicts, bob, login=62_000_002)
    private = await channel_of(client, alice, name="Private")
    public = await channel_of(client, alice, name="Public", public=True)

    async def attempt(user: Any, channel: dict[str, Any], account: dict[str, Any]) -> int:
        body = {
            "channel_id": channel["id"],
            "account_id": account["id"],
            "sizing": {"mode": "risk_pct", "percent": 1},
            "sl_pct": 0.5,
        }
        response = await client.post("/v1/subscriptions", json=body, headers=bearer(user))
        return response.status_code

    assert await attempt(bob, public, mine) == 404  # not his account
    assert await attempt(bob, private, his) == 404  # not a channel he may see
    assert await attempt(bob, public, his) == 201
    assert await attempt(bob, public, his) == 409  # once per account and channel
    # bob now sees the channel's name, nothing of its owner's
    seen = (await client.get(f"/v1/signal-channels/{public['id']}", headers=bearer(bob))).json()
    assert seen["name"] == "Public"
    assert seen["webhook_url"] is None
    assert seen["deliveries"] is None
    assert "secret" not in seen
    assert (
        await client.get(f"/v1/signal-channels/{private['id']}", headers=bearer(bob))
    ).status_code == 404
    assert (
        await client.delete(f"/v1/signal-channels/{public['id']}", headers=bearer(bob))
    ).status_code == 404


async def test_the_owner_renames_a_channel_or_closes_it_to_new_subscribers(
    client, users, verdicts, two_subscribers
):
    alice, bob = users
    channel, _, (_his, other) = two_subscribers
    url = f"/v1/signal-channels/{channel['id']}"
    for bad in ({}, {"name": ""}, {"name": None}, {"public": None}, {"public": "no"}, {"x": 1}):
        response = await client.patch(url, json=bad, headers=bearer(alice))
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    # a JSON boolean only, on creation too ("yes" is not true)
    for public in ("yes", 1, "true"):
        made = await client.post(
            "/v1/signal-channels", json={"name": "x", "public": public}, headers=bearer(alice)
        )
        assert made.status_code == 422, (public, made.text)
        assert made.json()["errors"][0]["field"] == "public"
    assert (
        await client.patch(url, json={"name": "Mine now"}, headers=bearer(bob))
    ).status_code == 404
    renamed = await client.patch(url, json={"name": "  Gold H4 "}, headers=bearer(alice))
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["public"]) == ("Gold H4", True)
    closed = await client.patch(url, json={"public": False}, headers=bearer(alice))
    assert (closed.json()["name"], closed.json()["public"]) == ("Gold H4", False)
    assert closed.json()["webhook_url"] == channel["webhook_url"]  # the owner's view
    # bob's subscription stays, and he still sees the name; nobody new may subscribe
    mine_to_see = await client.get(url, headers=bearer(bob))
    assert mine_to_see.json()["name"] == "Gold H4"
    assert (await client.get(f"/v1/subscriptions/{other['id']}", headers=bearer(bob))).json()[
        "channel_name"
    ] == "Gold H4"
    newcomer = await connected_account(client, verdicts, bob, login=61_000_003)
    refused = await client.post(
        "/v1/subscriptions",
        json={
            "channel_id": channel["id"],
            "account_id": newcomer["id"],
            "sizing": {"mode": "fixed", "volume": 0.01},
        },
        headers=bearer(bob),
    )
    assert refused.status_code == 404, refused.text
    response = await client.post(webhook(channel), json=alert(channel))
    assert response.json() == {"queued": 2, "skipped": 0}


async def test_subscription_settings_are_validated_and_patched_field_by_field(
    client, users, verdicts, two_subscribers
):
    alice, _ = users
    channel, (_mine, own), _ = two_subscribers
    url = f"/v1/subscriptions/{own['id']}"
    for bad in (
        {"sizing": {"mode": "fixed"}},
        {"sizing": {"mode": "martingale", "percent": 1}},
        {"sizing": {"mode": "balance_pct", "percent": 101}},
        {"leverage": 0},
        {"sl_pct": 100},
        {"sizing": None},
        {"symbols": {"EURUSD": "EUR USD"}},
        {"auto_trade": "no"},
        {"auto_trade": 0},
        {"max_open_positions": True},
        {"max_open_positions": "3"},
        {"max_open_positions": 2.0},
    ):
        response = await client.patch(url, json=bad, headers=bearer(alice))
        assert response.status_code == 422, (bad, response.text)
    await client.patch(url, json={"sl_pct": 1.5, "tp_pct": 3}, headers=bearer(alice))
    cleared = await client.patch(url, json={"sl_pct": None}, headers=bearer(alice))
    body = cleared.json()
    assert body["sl_pct"] is None
    assert body["tp_pct"] == "3"
    assert body["sizing"] == {"mode": "fixed", "volume": "0.01"}
    assert body["channel_name"] == "Gold breakout"
    deleted = await client.delete(url, headers=bearer(alice))
    assert deleted.status_code == 204
    assert (await client.get(url, headers=bearer(alice))).status_code == 404
    response = await client.post(webhook(channel), json=alert(channel))
    assert response.json() == {"queued": 1, "skipped": 0}


async def test_deleting_a_channel_keeps_the_trades_it_created(client, users, db, two_subscribers):
    alice, bob = users
    channel, *_ = two_subscribers
    await client.post(webhook(channel), json=alert(channel))
    deleted = await client.delete(f"/v1/signal-channels/{channel['id']}", headers=bearer(alice))
    assert deleted.status_code == 204
    trades = (await client.get("/v1/trades", headers=bearer(bob))).json()["items"]
    assert len(trades) == 1
    assert trades[0]["signal_id"] is not None
    assert (await client.get("/v1/subscriptions", headers=bearer(bob))).json() == []
    gone = await client.post(webhook(channel), json=alert(channel))
    assert gone.status_code == 401
