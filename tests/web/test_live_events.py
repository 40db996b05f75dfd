"""Live updates: the dashboard reads the functions' own `GET /v1/events` and updates
without polling; a stream that drops (the functions' process is killed and restarted by
`switchyard dev`) resumes with Last-Event-ID and delivers what happened meanwhile.

The dashboard reads the stream with fetch() and sends `Authorization: Bearer` (web/js/
events.js): EventSource cannot send headers, and a token in the URL would land in access
logs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import expect

from tests.web import flows
from tests.web.flows import STEP_MS, account_card, go, sign_up
from tests.web.helpers import PASSWORD, Stack, screenshot
from tests.web.test_dashboard import force_polling

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module", autouse=True)
def functions_serve_the_stream(stack: Stack) -> None:
    paths = httpx.get(stack.functions + "/openapi.json", timeout=10).json()["paths"]
    assert "get" in paths["/v1/events"], "the functions do not serve /v1/events"


def live_indicator(page: Any) -> Any:
    return page.get_by_role("status").filter(
        has_text=re.compile("Live updates|Updates by polling|Connecting")
    )


def token_of(stack: Stack, email: str) -> str:
    """An access token for `email`, from the Supabase Auth stand-in (as a script gets one)."""
    answer = httpx.post(
        stack.facts["supabase_url"] + "/auth/v1/token?grant_type=password",
        headers={"apikey": stack.facts["anon_key"]},
        json={"email": email, "password": PASSWORD},
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def test_a_trade_fills_on_the_ticket_from_the_event_stream_without_polling(
    stack: Stack, open_page: Any
) -> None:
    page, seen = open_page()
    sign_up(page, stack.dashboard, "barbara.liskov@example.com")
    expect(live_indicator(page)).to_have_text("Live updates", timeout=STEP_MS)
    flows.connect_mt5(page, "Live demo", stack.demo(5001001))
    go(page, "Trade")
    status = flows.place_order(page, volume="0.30")
    expect(status).to_have_text(re.compile(r"^Filled: buy 0\.3 EURUSD"), timeout=STEP_MS)
    # the ticket never asked the API how its trade went: the stream told it
    assert seen.calls("GET", "/v1/trades/") == []
    assert seen.calls("GET", "/v1/jobs/") == []
    screenshot(page, "trade-filled-live-desktop")


def test_a_change_made_elsewhere_appears_without_reloading_or_polling(
    stack: Stack, open_page: Any
) -> None:
    page, seen = open_page()
    email = "alan.kay@example.com"
    sign_up(page, stack.dashboard, email)
    expect(live_indicator(page)).to_have_text("Live updates", timeout=STEP_MS)
    card = flows.connect_mt5(page, "Before", stack.demo(5001002))
    account_id = card.get_attribute("data-account-id")
    # a script renames the account with its own token (curl would do the same)
    renamed = httpx.patch(
        f"{stack.functions}/v1/accounts/{account_id}",
        headers={"Authorization": f"Bearer {token_of(stack, email)}"},
        json={"name": "Renamed by a script"},
        timeout=10,
    )
    assert renamed.status_code == 200, renamed.text
    expect(account_card(page, "Renamed by a script")).to_be_visible(timeout=STEP_MS)
    assert len(seen.calls("GET", "/js/main.js")) == 1  # the page was never reloaded


def kill_and_await_restart(stack: Stack, child: str) -> None:
    """SIGKILL one child of `switchyard dev` and wait until it serves again."""
    facts_path = stack.data_dir / "dev.json"
    before = json.loads(facts_path.read_text())["pids"][child]
    os.kill(before, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = json.loads(facts_path.read_text())["pids"].get(child)
        if pid not in (None, before):
            try:
                if httpx.get(stack.functions + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"{child} did not come back")


def cursor(event_id: str | None) -> tuple[int, ...]:
    """An event id as the functions order them: (transaction, sequence)."""
    return tuple(int(part) for part in (event_id or "0-0").split("-"))


def event_after(
    stack: Stack, token: str, last_event_id: str, name: str
) -> tuple[str, dict[str, Any]]:
    """The functions' first account event named `name` after `last_event_id`: (id, data)."""
    headers = {"authorization": f"Bearer {token}", "last-event-id": last_event_id}
    with httpx.stream("GET", stack.functions + "/v1/events", headers=headers, timeout=10) as answer:
        assert answer.status_code == 200
        event_id, kind = None, None
        for line in answer.iter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "account" and event_id:
                data = json.loads(line[6:])
                if data.get("name") == name:
                    return event_id, data
            elif line == "":
                event_id, kind = None, None
    raise AssertionError("the stream ended before the event")


def test_a_dropped_stream_reconnects_with_its_last_event_id_and_misses_nothing(
    stack: Stack, open_page: Any
) -> None:
    page, _ = open_page()
    resumed_with: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            resumed_with.append(request.headers.get("last-event-id"))
            if request.url.endswith("/v1/events") and request.method == "GET"
            else None
        ),
    )
    email = "margaret.hamilton@example.com"
    sign_up(page, stack.dashboard, email)
    indicator = live_indicator(page)
    expect(indicator).to_have_text("Live updates", timeout=STEP_MS)
    card = flows.connect_mt5(page, "Apollo", stack.demo(5001003))
    account_id = card.get_attribute("data-account-id")
    expect(indicator).to_have_attribute("data-last-event-id", re.compile(r"^\d+-\d+$"))
    page.wait_for_timeout(500)  # the connect's last events have arrived
    before = indicator.get_attribute("data-last-event-id")
    assert before is not None
    # the functions' process dies with the stream open; while it is away the account is
    # renamed in the database (as the worker or the Supabase API would write it)
    opened = len(resumed_with)
    kill_and_await_restart(stack, "functions")
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("update public.accounts set name = 'Apollo 11' where id = %s", (account_id,))
    renamed_id, _ = event_after(stack, token_of(stack, email), before, "Apollo 11")
    expect(account_card(page, "Apollo 11")).to_be_visible(timeout=STEP_MS)
    expect(indicator).to_have_text("Live updates", timeout=STEP_MS)
    resumed = [cursor(v) for v in resumed_with[opened:] if v is not None]
    assert resumed, "the client reconnected without its Last-Event-ID"
    assert min(resumed) >= cursor(before)  # where it was when its stream dropped, or later
    # the dashboard's stream went past the rename's id, which only the stream tells it; the
    # stream has no gaps after a resumption, so the rename was replayed to it
    deadline = time.monotonic() + STEP_MS / 1000
    while cursor(indicator.get_attribute("data-last-event-id")) < cursor(renamed_id):
        assert time.monotonic() < deadline, "the dashboard never received the rename"
        page.wait_for_timeout(100)


def test_without_the_stream_the_dashboard_says_so_and_polls(stack: Stack, open_page: Any) -> None:
    page, seen = open_page()
    force_polling(page)
    sign_up(page, stack.dashboard, "dennis.ritchie@example.com")
    expect(live_indicator(page)).to_have_text("Updates by polling", timeout=STEP_MS)
    flows.connect_mt5(page, "Polled", stack.demo(5001004))
    go(page, "Trade")
    flows.place_order(page, volume="0.10")
    status = page.get_by_role("region", name="Status").get_by_role("status")
    # 5001004 is read-only at the terminal: the refusal arrives by polling, with its reason
    expect(status).to_have_text(re.compile(r"^Failed: .+"), timeout=STEP_MS)
    assert seen.calls("GET", "/v1/trades/"), "the ticket did not poll its trade"


def test_the_event_parser_reads_the_stream_as_the_html_standard_does(
    stack: Stack, open_page: Any
) -> None:
    page, _ = open_page()
    page.goto(stack.dashboard)
    events = page.evaluate(
        """async () => {
          const { LineSplitter, EventParser } = await import('./js/events.js');
          const got = [];
          const parser = new EventParser((e) => got.push(e));
          const splitter = new LineSplitter();
          const chunks = [': keep-alive\\r', '\\n\\r\\nevent: ready\\ndata: {"last_event_id": 4}\\n\\n',
                          'id: 5\\nevent: job\\nda', 'ta: {"id": "a"}\\r\\n\\r\\n',
                          'id: 6\\r', '\\nevent: account\\ndata:{"id":\\ndata: "b"}\\n\\n', 'data: ignored'];
          for (const chunk of chunks) for (const line of splitter.push(chunk)) parser.line(line);
          return { got, lastId: parser.lastId };
        }"""
    )
    assert events["got"] == [
        {"type": "ready", "data": '{"last_event_id": 4}', "id": None},
        {"type": "job", "data": '{"id": "a"}', "id": "5"},
        {"type": "account", "data": '{"id":\n"b"}', "id": "6"},
    ]
    assert events["lastId"] == "6"
