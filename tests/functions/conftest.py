"""Fixtures for the HTTP functions: the real app over HTTP, on the real test database.

Every response of the suite passes through `recorder`; at the end of the session
`secrets_scan` fails the run if any body or header held a credential used by the
tests or a Fernet ciphertext.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from api_helpers import RECORDED, Verdicts, leaked, recorder

from functions.app import create_app
from functions.core.settings import Settings


@pytest.fixture(scope="session", autouse=True)
def secrets_scan() -> Iterator[list[tuple[str, str]]]:
    """After the whole session: no response body held a secret or a ciphertext."""
    yield RECORDED
    problems = leaked(RECORDED)
    assert not problems, f"secrets in responses: {problems}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def api_settings(settings: Settings, functions_db_url: str) -> Settings:
    return settings.model_copy(
        update={
            "functions_database_url": functions_db_url,
            "job_poll_interval_s": 0.2,
            "wait_default_s": 5.0,
        }
    )


@pytest.fixture
async def make_client(
    api_settings: Settings,
) -> AsyncIterator[Callable[..., Any]]:
    """A factory: `await make_client(**settings_overrides)` → a client of a started app.

    Each call builds a separate app (its own pool and listener), as a separate function
    process would be; all are stopped at the end of the test.
    """
    stack = contextlib.AsyncExitStack()

    async def make(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(api_settings.model_copy(update=overrides))
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 50000)),
            base_url="http://functions.test",
            headers={"user-agent": "switchyard-tests/1"},
            event_hooks={"response": [recorder]},
        )
        await stack.enter_async_context(client)
        return client

    async with stack:
        yield make


@pytest.fixture
async def client(make_client: Callable[..., Any]) -> httpx.AsyncClient:
    made: httpx.AsyncClient = await make_client()
    return made


@pytest.fixture
def verdicts(db_url: str) -> Verdicts:
    return Verdicts(db_url)


@pytest.fixture
def users(make_user: Callable[[str], Any]) -> tuple[Any, Any]:
    """Two users, alice and bob."""
    return make_user("alice@example.com"), make_user("bob@example.com")
