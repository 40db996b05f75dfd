"""The journal over HTTP: positions, deals (paged, filtered), P&L and the equity series.

Rows are written as the worker writes them (tests/worker/test_journal_refresh.py drives the
real worker and simulator end to end); here the reads, their pages, filters, sums and
refusals are checked, and that another user sees none of it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.functions.helpers import bearer, connected_account

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)


def add_deal(
    db,
    account,
    *,
    at,
    symbol="EURUSD",
    side="buy",
    entry="in",
    profit="0",
    commission="0",
    swap="0",
    fee="0",
    deal_id=None,
):
    db.execute(
        "insert into public.deals (user_id, account_id, venue_deal_id, symbol, side, entry,"
        " volume, price, profit, commission, fee, swap, executed_at)"
        " select user_id, id, %s, %s, %s, %s, 0.1, 1.1, %s, %s, %s, %s, %s"
        " from public.accounts where id = %s",
        (
            deal_id or uuid.uuid4().hex,
            symbol,
            side,
            entry,
            profit,
            commission,
            fee,
            swap,
            at,
            account["id"],
        ),
    )


async def test_deals_page_newest_first_without_skipping_deals_of_the_same_second(
    client, users, verdicts, db
):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    for i in range(5):  # deals 2, 3, 4 in one second, as a venue's clock reports them
        add_deal(db, account, at=T0 + timedelta(seconds=min(i, 2)), deal_id=str(i))
    seen, url = [], "/v1/deals?limit=2"
    while url:
        response = await client.get(url, headers=bearer(alice))
        assert response.status_code == 200, response.text
        page = response.json()
        seen += page["items"]
        url = page["next"]
    # newest first, and within the second in the venue's own order, reversed
    assert [d["venue_deal_id"] for d in seen] == ["4", "3", "2", "1", "0"]


async def test_deals_filter_by_account_symbol_and_time(client, users, verdicts, db):
    alice, _ = users
    one = await connected_account(client, verdicts, alice)
    two = await connected_account(client, verdicts, alice, login=51234568)
    add_deal(db, one, at=T0, symbol="EURUSD")
    add_deal(db, one, at=T0 + timedelta(hours=1), symbol="GBPUSD")
    add_deal(db, two, at=T0 + timedelta(hours=2), symbol="EURUSD")

    async def symbols(**params):
        response = await client.get("/v1/deals", params=params, headers=bearer(alice))
        assert response.status_code == 200, response.text
        return [d["symbol"] for d in response.json()["items"]]

    assert await symbols(account_id=one["id"]) == ["GBPUSD", "EURUSD"]
    assert await symbols(symbol="EURUSD") == ["EURUSD", "EURUSD"]
    hour = (T0 + timedelta(hours=1)).isoformat()
    assert await symbols(since=hour) == ["EURUSD", "GBPUSD"]  # since is inclusive
    assert await symbols(until=hour) == ["EURUSD"]  # until is exclusive


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (
            "/v1/deals",
            {"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
            "query.until",
        ),
        ("/v1/deals", {"since": "yesterday"}, "query.since"),
        ("/v1/deals", {"since": "2026-12-01T10:00:00"}, "query.since"),  # no offset
        ("/v1/pnl", {"group_by": "week"}, "query.group_by"),
        ("/v1/pnl", {"tz": "Mars/Olympus"}, "query.tz"),
        ("/v1/pnl", {"tz": "UTC'; select 1"}, "query.tz"),
        ("/v1/deals", {"symbol": "EUR USD"}, "query.symbol"),
        ("/v1/pnl", {"symbol": "x" * 65}, "query.symbol"),
        ("/v1/positions", {"limit": "0"}, "query.limit"),
    ],
)
async def test_bad_parameters_are_a_problem_naming_the_parameter(
    client, users, path, params, field
):
    alice, _ = users
    response = await client.get(path, params=params, headers=bearer(alice))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert field in body["detail"]


async def test_pnl_sums_the_venues_figures_per_day_symbol_and_account(client, users, verdicts, db):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    add_deal(db, account, at=T0, commission="-0.35")
    add_deal(
        db,
        account,
        at=T0 + timedelta(minutes=10),
        side="sell",
        entry="out",
        profit="12.50",
        commission="-0.35",
        swap="-0.40",
    )
    # past midnight UTC, but still 1 December in New York
    add_deal(db, account, at=T0 + timedelta(hours=2), symbol="GBPUSD", entry="in")
    add_deal(
        db,
        account,
        at=T0 + timedelta(hours=3),
        symbol="GBPUSD",
        side="sell",
        entry="out",
        profit="-4.00",
        fee="-0.10",
    )
    db.execute(  # a deposit is no P&L
        "insert into public.deals (user_id, account_id, venue_deal_id, symbol, volume, price,"
        " profit, executed_at) select user_id, id, 'dep', '', 0, 0, 1000, %s"
        " from public.accounts where id = %s",
        (T0, account["id"]),
    )

    async def pnl(**params):
        response = await client.get("/v1/pnl", params=params, headers=bearer(alice))
        assert response.status_code == 200, response.text
        return response.json()

    by_day = await pnl(group_by="day")
    assert by_day["tz"] == "UTC"
    assert [
        (g["key"], g["realised"], g["fees"], g["swaps"], g["net"], g["trades"], g["wins"])
        for g in by_day["items"]
    ] == [
        ("2026-12-01", "12.50", "-0.70", "-0.40", "11.40", 1, 1),
        ("2026-12-02", "-4.00", "-0.10", "0", "-4.10", 1, 0),
    ]
    ny = await pnl(group_by="day", tz="America/New_York")
    [day] = ny["items"]
    assert (day["key"], day["net"], day["trades"], day["win_rate"]) == (
        "2026-12-01",
        "7.30",
        2,
        0.5,
    )
    by_symbol = await pnl(group_by="symbol")
    assert {g["key"]: Decimal(g["net"]) for g in by_symbol["items"]} == {
        "EURUSD": Decimal("11.40"),
        "GBPUSD": Decimal("-4.10"),
    }
    [acc] = (await pnl(group_by="account"))["items"]
    assert (acc["key"], acc["currency"], acc["deals"]) == (account["id"], "USD", 4)
    ranged = await pnl(since=(T0 + timedelta(hours=1)).isoformat())
    assert [g["key"] for g in ranged["items"]] == ["2026-12-02"]


async def test_equity_is_the_snapshots_and_a_long_range_is_downsampled(client, users, verdicts, db):
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    db.execute(
        "insert into public.balance_snapshots (user_id, account_id, balance, equity, currency,"
        " taken_at) select user_id, id, 10000 + i, 10000 + i * 2, 'USD', %s + i * interval '1 minute'"
        " from public.accounts, generate_series(1, 100) i where id = %s",
        (T0, account["id"]),
    )
    url = f"/v1/accounts/{account['id']}/equity"
    # the range leaves out the snapshot the verification took (now)
    span = {"since": T0.isoformat(), "until": (T0 + timedelta(hours=2)).isoformat()}
    full = (await client.get(url, params=span, headers=bearer(alice))).json()
    assert full["downsampled"] is False
    assert [Decimal(p["balance"]) for p in full["items"]] == [
        Decimal(10000 + i) for i in range(1, 101)
    ]
    small = (await client.get(url, params={**span, "points": 10}, headers=bearer(alice))).json()
    assert small["downsampled"] is True
    assert 2 <= len(small["items"]) <= 10
    assert sum(p["snapshots"] for p in small["items"]) == 100
    last = small["items"][-1]
    assert (Decimal(last["balance"]), Decimal(last["equity_max"])) == (
        Decimal(10100),
        Decimal(10200),
    )
    assert all(
        Decimal(p["equity_min"]) <= Decimal(p["equity"]) <= Decimal(p["equity_max"])
        for p in small["items"]
    )


async def test_another_user_sees_none_of_it(client, users, verdicts, db):
    alice, bob = users
    account = await connected_account(client, verdicts, alice)
    add_deal(db, account, at=T0, side="sell", entry="out", profit="5")
    db.execute(
        "insert into public.positions (user_id, account_id, venue_position_id, symbol, side,"
        " volume, open_price, opened_at) select user_id, id, '77', 'EURUSD', 'buy', 0.1, 1.1,"
        " %s from public.accounts where id = %s",
        (T0, account["id"]),
    )
    mine = (await client.get("/v1/positions", headers=bearer(alice))).json()["items"]
    assert [(p["position"], p["account_id"], p["currency"]) for p in mine] == [
        ("77", account["id"], "USD")
    ]
    for path in ("/v1/positions", "/v1/deals", f"/v1/deals?account_id={account['id']}", "/v1/pnl"):
        response = await client.get(path, headers=bearer(bob))
        assert response.status_code == 200
        assert response.json()["items"] == []
    equity = await client.get(f"/v1/accounts/{account['id']}/equity", headers=bearer(bob))
    assert equity.status_code == 404
    assert equity.headers["content-type"] == "application/problem+json"
