"""The journal right after a trade, end to end: the real worker and simulated terminal
write it, the real functions answer it (GET /v1/positions, /v1/deals, /v1/pnl, equity).

No scheduled sync runs in these tests (the interval is a day, and no sync job exists):
whatever the functions show came from the refresh the worker does inside each trade.
The P&L is checked against the simulator's own deals (its state file).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from functions.app import create_app
from switchyard.tokens import mint_token
from tests.functions.helpers import client_of
from tests.worker.helpers import SIM_ACCOUNTS, running, wait_job

pytestmark = pytest.mark.anyio

COMMISSIONED = SIM_ACCOUNTS[21]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api(settings, functions_db_url) -> AsyncIterator[httpx.AsyncClient]:
    """The real functions app, in this process (the worker's jobs block it only between
    requests)."""
    app = create_app(settings.model_copy(update={"functions_database_url": functions_db_url}))
    async with client_of(app) as client:
        yield client


async def items(api: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = await api.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def as_owner(settings, db, account) -> dict[str, str]:
    email = db.execute("select email from auth.users where id = %s", (account.user_id,)).fetchone()
    token = mint_token(settings, account.user_id, email["email"])
    return {"authorization": f"Bearer {token}"}


def sim_deals(sim, login: int) -> list[dict[str, Any]]:
    """The simulator's own record of the account's trade deals (buy 0 / sell 1)."""
    state = json.loads(sim.state_path.read_text())
    [book] = [a for a in state["accounts"] if a["spec"]["login"] == login]
    return [d for d in book["history_deals"] if d["type"] in (0, 1)]


def bid(sim, symbol: str) -> float:
    conn = sim.control()
    try:
        return float(conn.modules.MetaTrader5._state.terminal().market.quote(symbol)[0])
    finally:
        conn.close()


def sim_call(sim, name: str, *args: Any) -> None:
    conn = sim.control()
    try:
        getattr(conn.modules.MetaTrader5._sim, name)(*args)
    finally:
        conn.close()


def trade(db, enqueue, account, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    row = wait_job(db, enqueue(account, kind, payload))
    assert row["status"] == "succeeded", row
    return row["result"]


def no_sync_ran(db, account) -> bool:
    row = db.execute(
        "select count(*) as n from public.jobs where account_id = %s and kind = 'sync'",
        (account.id,),
    ).fetchone()
    return row["n"] == 0


async def test_a_position_is_listed_right_after_its_trade_and_gone_right_after_its_close(
    db, sim, make_account, enqueue, worker_settings, settings, api
):
    account = make_account(SIM_ACCOUNTS[0])
    owner = as_owner(settings, db, account)
    with running(worker_settings(sim, sync_interval_s=86_400)):
        opened = trade(
            db,
            enqueue,
            account,
            "order",
            {"symbol": "EURUSD", "side": "buy", "volume": "0.10", "sl": "1.0"},
        )
        [position] = await items(api, "/v1/positions", owner)
        assert (position["position"], position["symbol"], position["side"]) == (
            opened["position"],
            "EURUSD",
            "buy",
        )
        assert (Decimal(position["volume"]), Decimal(position["sl"])) == (Decimal("0.1"), 1)
        assert position["account_id"] == str(account.id)
        trade(db, enqueue, account, "modify", {"position": opened["position"], "sl": "1.01"})
        [modified] = await items(api, "/v1/positions", owner)
        assert Decimal(modified["sl"]) == Decimal("1.01")
        trade(db, enqueue, account, "close", {"position": opened["position"]})
        assert await items(api, "/v1/positions", owner) == []
        deals = await items(api, "/v1/deals", owner)
        assert no_sync_ran(db, account)
    assert [(d["entry"], d["venue_position_id"]) for d in deals if d["side"]] == [
        ("out", opened["position"]),
        ("in", opened["position"]),
    ]


async def test_pnl_fees_and_swaps_are_the_simulators_own_deals(
    db, sim, make_account, enqueue, worker_settings, settings, api
):
    account = make_account(COMMISSIONED)
    owner = as_owner(settings, db, account)
    buy = {"symbol": "EURUSD", "side": "buy", "volume": "0.20"}
    with running(worker_settings(sim, sync_interval_s=86_400)):
        for move, swap in ((+0.0050, -1.25), (-0.0030, -0.40)):  # a win, then a loss
            opened = trade(db, enqueue, account, "order", buy)
            sim_call(sim, "book_swap", int(opened["position"]), swap)
            sim_call(sim, "pin_price", "EURUSD", bid(sim, "EURUSD") + move)
            trade(db, enqueue, account, "close", {"position": opened["position"]})
            sim_call(sim, "pin_price", "EURUSD", None)
        assert no_sync_ran(db, account)
    theirs = sim_deals(sim, COMMISSIONED["login"])
    assert len(theirs) == 4
    [group] = await items(api, "/v1/pnl", owner, group_by="account")
    total = lambda field: sum((Decimal(str(d[field])) for d in theirs), Decimal(0))  # noqa: E731
    assert Decimal(group["realised"]) == total("profit")
    assert Decimal(group["fees"]) == total("commission") + total("fee") == Decimal("-2.80")
    assert Decimal(group["swaps"]) == total("swap") == Decimal("-1.65")
    closing = [d for d in theirs if d["entry"] == 1]
    assert group["trades"] == len(closing) == 2
    assert group["wins"] == sum(1 for d in closing if d["profit"] > 0) == 1
    assert group["win_rate"] == 0.5
    assert (group["key"], group["currency"], group["deals"]) == (str(account.id), "USD", 4)

    # the equity series: one snapshot per trade, the last one the simulator's balance
    series = (await api.get(f"/v1/accounts/{account.id}/equity", headers=owner)).json()
    state = json.loads(sim.state_path.read_text())
    [book] = [a for a in state["accounts"] if a["spec"]["login"] == COMMISSIONED["login"]]
    assert len(series["items"]) == 4
    assert Decimal(series["items"][-1]["balance"]) == Decimal(str(book["balance"]))
    assert Decimal(str(book["balance"])) == Decimal(100_000) + Decimal(group["net"])
