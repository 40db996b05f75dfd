"""Fixtures for the HTTP functions: the real app over HTTP, on the real test database.

Every response of the suite passes through `recorder`; at the end of the session
`secrets_scan` fails the run if any body or header held a credential used by the
tests or a Fernet ciphertext.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.app import create_app
from switchyard.settings import Settings
from tests.functions.helpers import RECORDED, Served, Verdicts, client_of, leaked, start_server


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
        return await stack.enter_async_context(client_of(app))

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


@pytest.fixture
def make_server(
    settings: Settings, functions_db_url: str, tmp_path: Path
) -> Iterator[Callable[..., Served]]:
    """A factory: `make_server(**env)` → `switchyard functions` under a real uvicorn, as a
    separate process on a free port of 127.0.0.1, with extra environment variables."""
    started: list[Served] = []

    def make(**extra_env: str) -> Served:
        assert settings.database_url is not None
        assert settings.encryption_keys is not None
        assert settings.supabase_jwt_secret is not None
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SWITCHYARD_FUNCTIONS_DATABASE_URL": functions_db_url,
            "SWITCHYARD_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
            "SUPABASE_JWT_SECRET": settings.supabase_jwt_secret.get_secret_value(),
            "SWITCHYARD_DATA_DIR": str(tmp_path / "data"),
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        server = start_server(env, tmp_path / f"functions-{len(started)}.log")
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
