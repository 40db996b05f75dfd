"""What a person does on the dashboard, as Playwright steps a test can chain.

Everything is found the way a person (or a screen reader) finds it: by its label, its
role and its accessible name, never by a CSS class or an id.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.web.helpers import PASSWORD

#: How long a step may wait for the stack (the worker logs in, verifies, trades).
STEP_MS = 30_000


def open_dashboard(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Sign in to switchyard")).to_be_visible(timeout=STEP_MS)


def sign_up(page: Page, url: str, email: str, password: str = PASSWORD) -> None:
    open_dashboard(page, url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Accounts", exact=True)).to_be_visible(timeout=STEP_MS)
    expect(page.get_by_text(email)).to_be_visible()


def sign_in(page: Page, url: str, email: str, password: str = PASSWORD) -> None:
    open_dashboard(page, url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to switchyard")).to_be_visible(timeout=STEP_MS)


def go(page: Page, link: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()


def trades_table(page: Page) -> Any:
    """History's table of your trades (the venue's deals have a table of their own)."""
    return page.get_by_role("table", name="Your trades, newest first")


def connect_form(page: Page) -> Any:
    return page.get_by_role("form", name="Connect an account")


def fill_mt5(page: Page, name: str, account: dict[str, Any], password: str | None = None) -> Any:
    form = connect_form(page)
    form.get_by_label("MT5 login").check()
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Login", exact=True).fill(str(account["login"]))
    form.get_by_label("Password", exact=True).fill(password or account["password"])
    form.get_by_label("Server", exact=True).fill(account["server"])
    return form


def account_card(page: Page, name: str) -> Any:
    return page.get_by_role("article", name=name)


def connect_mt5(page: Page, name: str, account: dict[str, Any]) -> Any:
    form = fill_mt5(page, name, account)
    form.get_by_role("button", name="Connect").click()
    card = account_card(page, name)
    expect(card.get_by_text("verified", exact=True)).to_be_visible(timeout=STEP_MS)
    return card


def ticket(page: Page) -> Any:
    return page.get_by_role("form", name="Trade")


def place_order(page: Page, *, symbol: str = "EURUSD", volume: str = "0.10", **extra: str) -> Any:
    """On the Trade page: fill the ticket and send it; returns the status line."""
    form = ticket(page)
    expect(form.get_by_label("Account")).not_to_have_value("", timeout=STEP_MS)
    form.get_by_label("Symbol").fill(symbol)
    form.get_by_label("Volume").fill(volume)
    for label, value in extra.items():
        form.get_by_label(label.replace("_", " ").capitalize(), exact=True).fill(value)
    form.get_by_role("button", name="Place order").click()
    return page.get_by_role("region", name="Status").get_by_role("status")
