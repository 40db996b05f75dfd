"""The ASGI app: built here and only here. `create_app(settings)` is all a host needs.

    uvicorn --factory functions.app:app_from_environment

Building checks the configuration and refuses to start without a valid encryption
key ring or a way to verify tokens (ConfigError); the database is connected lazily.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from functions.api import problems
from functions.api.bodylimit import BodyLimit
from functions.api.routes import accounts, health, jobs, trades
from functions.api.runtime import Runtime
from functions.core.embedded import database_url
from functions.core.settings import Settings, functions_url_from, load_settings

DESCRIPTION = """
Connect your MetaTrader 5 logins and exchange API keys, pick the active one, and trade
with a plain HTTP call. Every endpoint under `/v1` needs a Supabase Auth access token
(`Authorization: Bearer <token>`). Errors are `application/problem+json` (RFC 9457).

Requests that need the venue (connect, verify, switch, trades) wait up to `?wait=`
seconds for the worker: **201/200** with the outcome, **202** + `Location` to poll
when it takes longer, **4xx** with the venue's reason when it refused.
"""


def functions_conninfo(settings: Settings) -> str:
    """SWITCHYARD_FUNCTIONS_DATABASE_URL, else the service database as `authenticator`."""
    if settings.functions_database_url:
        return settings.functions_database_url
    return functions_url_from(database_url(settings))


def create_app(settings: Settings, conninfo: str | None = None) -> FastAPI:
    """The app for `settings`; `conninfo` overrides where it connects (tests, benches)."""
    runtime = Runtime.build(settings, conninfo or functions_conninfo(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="switchyard",
        version="0.1.0",
        summary="Trade on your own MT5 and exchange accounts, behind Supabase Auth.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    problems.install(app)
    for module in (health, accounts, trades, jobs):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def app_from_environment() -> FastAPI:
    """For ASGI hosts: the app configured from the environment."""
    return create_app(load_settings())
