"""Fixtures of the browser tests: one `switchyard dev` stack and one Chromium per module.

The stack is the real command (`python -m switchyard dev`) on a database copied from the
test template, with free ports: the functions, the worker, the simulated MT5 terminal and
exchange, the Supabase Auth stand-in and the dashboard's own static server. Starting it
takes seconds, so a module shares it; every test signs up users of its own, so tests stay
independent. Each test gets a fresh browser context (no cookies, no storage) and leaves a
screenshot in artifacts/web/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import with_database
from tests.web.helpers import (
    DESKTOP,
    Stack,
    Watched,
    dev_stack,
    require_chromium,
    screenshot,
    watch,
)


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Extra environment for the module's stack (a module may override it)."""
    return {}


@pytest.fixture(scope="module")
def stack(
    chromium: str,
    tmp_path_factory: pytest.TempPathFactory,
    admin_url: str,
    databases: Any,
    stack_env: dict[str, str],
) -> Iterator[Stack]:
    name = databases.take()
    try:
        with dev_stack(
            tmp_path_factory.mktemp("dev"), with_database(admin_url, name), **stack_env
        ) as running:
            yield running
    finally:
        databases.give_back(name)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from tests.web.helpers import CHROMIUM_FLAGS

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def allowed_origins(stack: Stack) -> set[str]:
    """Where the page may send requests: the dashboard, Supabase Auth, the functions."""
    return stack.origins()


@pytest.fixture
def open_page(
    browser: Any, request: pytest.FixtureRequest, allowed_origins: set[str]
) -> Iterator[Callable[..., tuple[Any, Watched]]]:
    """A factory: `open_page(viewport=PHONE)` → (page, what it did), each in its own context.

    At the end: a screenshot of each page, and no page logged an error, threw, or asked
    anything of an origin other than the stack's three (nothing from a CDN).
    """
    opened: list[tuple[Any, Any, Watched]] = []

    def make(viewport: dict[str, int] = DESKTOP, **options: Any) -> tuple[Any, Watched]:
        context = browser.new_context(viewport=viewport, **options)
        page = context.new_page()
        page.set_default_timeout(30_000)
        seen = watch(page, allowed_origins)
        opened.append((context, page, seen))
        return page, seen

    yield make
    for index, (context, page, seen) in enumerate(opened):
        suffix = f"-{index + 1}" if len(opened) > 1 else ""
        try:
            screenshot(page, f"{request.node.name}{suffix}")
        finally:
            context.close()
        assert not seen.page_errors, seen.page_errors
        assert not seen.console_errors, seen.console_errors
        assert not seen.foreign, f"requests outside the stack: {seen.foreign}"


@pytest.fixture
def artifacts() -> Path:
    from tests.web.helpers import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
