"""The ASGI app: built here and only here. `create_app(settings)` is all a host needs.

    uvicorn --factory functions.app:app_from_environment

Building checks the configuration and refuses to start without a valid encryption
key ring or a way to verify tokens (ConfigError) — before anything starts an embedded
database — and the database is connected lazily.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from functions.api import cors, openapi, problems
from functions.api.accesslog import install_log_redaction
from functions.api.auth import hs256_secret
from functions.api.bodylimit import BodyLimit
from functions.api.routes import (
    accounts,
    api_tokens,
    events,
    health,
    jobs,
    journal,
    signals,
    subscriptions,
    trades,
)
from functions.api.runtime import Runtime
from switchyard.embedded import database_url
from switchyard.settings import Settings, functions_url_from, load_settings
from switchyard.vault import KeyRing

DESCRIPTION = """
Connect your MetaTrader 5 logins and exchange API keys, pick the active one, and trade
with a plain HTTP call. Every endpoint under `/v1` needs a Supabase Auth access token
(`Authorization: Bearer <token>`) or an API token with the scope the operation names
(`x-api-token-scope`). Errors are `application/problem+json` (RFC 9457).

Requests that need the venue (connect, verify, switch, trades) wait up to `?wait=`
seconds for the worker: **201/200** with the outcome, **202** + `Location` to poll
when it takes longer, **4xx** with the venue's reason when it refused.
"""


def functions_conninfo(settings: Settings) -> str:
    """SWITCHYARD_FUNCTIONS_DATABASE_URL, else the service database as `switchyard_functions`."""
    if settings.functions_database_url:
        return settings.functions_database_url
    return functions_url_from(database_url(settings))


def check_configuration(settings: Settings) -> None:
    """What the functions refuse to start without, checked before any database is touched.

    Runtime.build checks the same again; doing it first means a missing key fails at once
    and leaves no embedded database behind.
    """
    KeyRing.parse(settings.encryption_keys.get_secret_value() if settings.encryption_keys else None)
    hs256_secret(settings)


def create_app(settings: Settings, conninfo: str | None = None) -> FastAPI:
    """The app for `settings`; `conninfo` overrides where it connects (tests, benches)."""
    check_configuration(settings)
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
    openapi.install(app)
    for module in (
        health,
        accounts,
        trades,
        jobs,
        journal,
        api_tokens,
        signals,
        subscriptions,
        events,
    ):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Outermost, so that a refusal by the body limit is readable by an allowed page too.
    cors.install(app, settings.cors_origins)
    return app


def app_from_environment() -> FastAPI:
    """For ASGI hosts: the app configured from the environment.

    Under uvicorn (or gunicorn with uvicorn workers) its access log redacts credentials
    in query strings, as `switchyard functions` does.
    """
    install_log_redaction()
    return create_app(load_settings())
