"""The dashboard's Signals page in real Chromium: a channel (its secret shown once), an
account subscribed to it, an alert posted to the webhook, and the trade it made."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.web import flows
from tests.web.audit import accessibility_problems
from tests.web.flows import STEP_MS, go, sign_up
from tests.web.helpers import Stack, screenshot

pytestmark = pytest.mark.timeout(240)


def test_a_channel_is_created_subscribed_to_and_an_alert_trades_on_the_account(
    stack: Stack, open_page: Any
) -> None:
    page, _ = open_page()
    sign_up(page, stack.dashboard, "hedy@example.com")
    flows.connect_mt5(page, "Hedy demo", stack.demo(5001003))
    go(page, "Signals")
    channels = page.get_by_role("form", name="Create a channel")
    channels.get_by_label("Name", exact=True).fill("Gold breakout")
    channels.get_by_role("button", name="Create channel").click()
    shown = page.get_by_role("status").filter(has_text="Webhook of Gold breakout")
    expect(shown).to_be_visible(timeout=STEP_MS)
    secret = shown.locator("code.secret-value").inner_text()
    url = shown.locator("code").first.inner_text()
    assert secret.startswith("sysig_")
    assert url.endswith("/v1/signals/" + url.rsplit("/", 1)[1])
    expect(page.get_by_role("row").filter(has_text="Gold breakout")).to_have_count(1)

    subscribe = page.get_by_role("form", name="Subscribe an account")
    expect(subscribe.get_by_label("Channel")).to_contain_text("Gold breakout", timeout=STEP_MS)
    subscribe.get_by_label("Volume").fill("0.02")
    subscribe.get_by_role("button", name="Subscribe").click()
    mine = page.get_by_role("table", name="Your subscriptions").get_by_role("row")
    expect(mine.filter(has_text="Hedy demo")).to_contain_text("fixed 0.02", timeout=STEP_MS)
    assert accessibility_problems(page) == []
    screenshot(page, "signals-desktop")

    # TradingView's side: the alert as text/plain, the secret in the body
    posted = httpx.post(
        url,
        content=f'{{"secret": "{secret}", "action": "buy", "symbol": "EURUSD"}}',
        headers={"content-type": "text/plain"},
        timeout=10,
    )
    assert posted.status_code == 202, posted.text
    assert posted.json() == {"queued": 1, "skipped": 0}
    go(page, "History")
    # the trade (its deal is in the deals' own table, stored right after the trade)
    row = flows.trades_table(page).get_by_role("row").filter(has_text="EURUSD")
    expect(row).to_contain_text(re.compile("succeeded"), timeout=STEP_MS)
    expect(row).to_contain_text("Hedy demo")
    # shown once: after a reload the secret is nowhere on the page
    page.reload()
    go(page, "Signals")
    owned = page.get_by_role("table", name="Channels you own or follow").get_by_role("row")
    expect(owned.filter(has_text="Gold breakout")).to_have_count(1)
    assert secret not in page.content()
