"""The journal's pages in real Chromium: open positions with Close, the venue's deals in
History, the equity curve and P&L by day — against a real `switchyard dev` stack.

A position is listed as soon as its trade fills (the worker refreshes it inside the trade;
no sync is awaited), is closed from the page with the keyboard after a confirmation, and
its deals and P&L show at once; a second user sees none of it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web import flows
from tests.web.audit import accessibility_problems, horizontal_overflow
from tests.web.flows import STEP_MS, go, sign_out, sign_up
from tests.web.helpers import PHONE, Stack, screenshot

pytestmark = pytest.mark.timeout(240)


def test_a_trade_shows_as_a_position_is_closed_from_the_page_and_shows_in_deals_and_pnl(
    stack: Stack, open_page: Any
) -> None:
    page, _ = open_page()
    sign_up(page, stack.dashboard, "joan@example.com")
    flows.connect_mt5(page, "Joan demo", stack.demo(5001001))
    go(page, "Trade")
    expect(flows.place_order(page, volume="0.10")).to_have_text(
        re.compile("^Filled"), timeout=STEP_MS
    )

    go(page, "Positions")
    expect(page.get_by_role("heading", name="Open positions")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="EURUSD")
    expect(row).to_have_count(1, timeout=STEP_MS)
    expect(row).to_contain_text("Joan demo")
    expect(row).to_contain_text("buy")
    assert accessibility_problems(page) == []
    page.set_viewport_size(PHONE)
    assert horizontal_overflow(page) <= 0
    screenshot(page, "positions-phone")

    # closing asks first; with the keyboard: the dialog opens on Cancel, Shift+Tab confirms
    close = row.get_by_role("button", name=re.compile(r"^Close EURUSD position \d+$"))
    close.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=re.compile(r"^Close position \d+\?$"))
    expect(dialog).to_contain_text("buy 0.1 EURUSD on Joan demo")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_role("button", name="Close position")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Closed")).to_be_visible(timeout=STEP_MS)
    expect(page.get_by_role("row").filter(has_text="EURUSD")).to_have_count(0)
    expect(page.get_by_text("Nothing yet.")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 900})

    go(page, "History")
    deals = page.get_by_role("table", name=re.compile("^Executions the venue reported"))
    expect(deals.get_by_role("row").filter(has_text="EURUSD")).to_have_count(2, timeout=STEP_MS)
    expect(deals.get_by_role("row").filter(has_text="balance")).to_have_count(1)  # the deposit
    filters = page.get_by_role("form", name="Filters")
    filters.get_by_label("Symbol").fill("not a symbol")
    filters.get_by_label("Symbol").press("Enter")
    filters.get_by_label("Symbol").blur()
    expect(filters.get_by_label("Symbol")).to_have_attribute("aria-invalid", "true")
    expect(filters.get_by_text("Value error, must not contain spaces")).to_be_visible()
    filters.get_by_label("Symbol").fill("GBPUSD")
    filters.get_by_label("Symbol").blur()
    expect(deals.get_by_text("Nothing yet.")).to_be_visible(timeout=STEP_MS)
    assert accessibility_problems(page) == []
    screenshot(page, "deals-desktop")

    go(page, "Equity & P&L")
    expect(
        page.get_by_role("img", name="Balance and equity of Joan demo over time")
    ).to_be_visible()
    pnl = page.get_by_role("figure").filter(has=page.get_by_role("heading", name="P&L by day"))
    expect(pnl).to_contain_text("1 days with trades", timeout=STEP_MS)
    expect(pnl.get_by_role("img", name="Realised profit and loss by day")).to_be_visible()
    expect(page.locator("canvas")).to_have_count(2)
    pnl.get_by_text("Show the numbers").click()
    day = pnl.get_by_role("row").filter(has_text=re.compile(r"\d{4}-\d{2}-\d{2}"))
    expect(day).to_have_count(1)
    cells = day.get_by_role("cell").all_inner_texts()
    realised, trades, win_rate = float(cells[1].replace(",", "")), cells[5], cells[6]
    assert trades == "1"  # one closing deal
    assert win_rate == ("100%" if realised > 0 else "0%")
    assert accessibility_problems(page) == []
    screenshot(page, "equity-and-pnl-desktop")
    page.set_viewport_size(PHONE)
    go(page, "History")
    expect(deals.get_by_role("row").filter(has_text="EURUSD")).to_have_count(2, timeout=STEP_MS)
    assert horizontal_overflow(page) <= 0
    go(page, "Equity & P&L")
    expect(page.locator("canvas")).to_have_count(2, timeout=STEP_MS)
    assert horizontal_overflow(page) <= 0
    screenshot(page, "equity-and-pnl-phone")

    # someone else sees none of it
    sign_out(page)
    sign_up(page, stack.dashboard, "kurt@example.com")
    go(page, "Positions")
    expect(page.get_by_text("Nothing yet.")).to_be_visible(timeout=STEP_MS)
    go(page, "History")
    expect(
        page.get_by_role("table", name=re.compile("^Executions the venue reported")).get_by_text(
            "Nothing yet."
        )
    ).to_be_visible(timeout=STEP_MS)
    assert "Joan demo" not in page.content()
