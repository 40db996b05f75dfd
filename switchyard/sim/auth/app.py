"""The stand-in as an ASGI app: Supabase's gateway in front (CORS, the `apikey`), GoTrue's
routes behind it under /auth/v1, as `create_client(supabase_url, anon_key)` reaches them.

    build_app(config)  → a Starlette app (mountable; `switchyard dev` can serve it)
    build_service(cfg) → its parts: the store, the token service and the anon key
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from switchyard.sim.auth import errors, handlers, keys
from switchyard.sim.auth.calls import MAX_BODY_BYTES, Call, check_api_key
from switchyard.sim.auth.config import AuthConfig, refuse_production
from switchyard.sim.auth.handlers import Answer, Service
from switchyard.sim.auth.sessions import Client
from switchyard.sim.auth.store import Store
from switchyard.sim.auth.tokens import TokenService

log = logging.getLogger("switchyard.sim.auth")

PREFIX: Final = "/auth/v1"
Handler = Callable[[Service, Call], Answer]
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_service(config: AuthConfig) -> Service:
    """The parts of one stand-in; the keys are read (or made once) from the data dir."""
    refuse_production(os.environ)
    legacy_secret = keys.load_legacy_secret(config.data_dir, config.legacy_jwt_secret)
    tokens = TokenService(
        issuer=config.issuer,
        signing_key=keys.load_signing_key(config.data_dir),
        legacy_secret=legacy_secret,
        exp_s=config.jwt_exp_s,
    )
    return Service(
        config=config,
        store=Store(config.database_url),
        tokens=tokens,
        anon_key=keys.load_anon_key(config.data_dir, legacy_secret),
    )


async def _read_body(request: Request) -> bytes:
    """The body, but never more than one byte past GoTrue's limit."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            break
    return b"".join(chunks)


def _respond(answer: Answer) -> Response:
    status, body = answer
    if status == 204:
        return Response(status_code=204)
    return JSONResponse(body, status_code=status)


def _endpoint(
    svc: Service, handler: Handler, *, needs_api_key: bool, clock: Clock
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        version = request.headers.get(errors.API_VERSION_HEADER)
        try:
            if needs_api_key:
                check_api_key(request.headers, request.query_params, svc.anon_key)
            call = Call(
                body=await _read_body(request),
                query=dict(request.query_params),
                headers=request.headers,
                path_params=dict(request.path_params),
                client=Client(
                    user_agent=request.headers.get("user-agent") or None,
                    ip=request.client.host if request.client else None,
                ),
                now=clock(),
            )
            answer = await run_in_threadpool(handler, svc, call)
        except (errors.ApiError, errors.OAuthError, errors.GatewayError) as exc:
            return errors.render(exc, version)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return errors.render(errors.internal("unexpected failure"), version)
        return _respond(answer)

    return endpoint


def build_app(config: AuthConfig, *, clock: Clock = utc_now) -> Starlette:
    """The stand-in's ASGI app; its database pool opens on start-up, closes on shutdown."""
    svc = build_service(config)

    def route(path: str, handler: Handler, methods: list[str], *, open_: bool = False) -> Route:
        endpoint = _endpoint(svc, handler, needs_api_key=not open_, clock=clock)
        return Route(PREFIX + path, endpoint, methods=methods)

    routes = [
        # Open on Supabase's gateway (no apikey): the JWKS, so anyone can verify tokens.
        route("/.well-known/jwks.json", handlers.jwks, ["GET"], open_=True),
        route("/health", handlers.health, ["GET"]),
        route("/settings", handlers.settings, ["GET"]),
        route("/signup", handlers.signup, ["POST"]),
        route("/token", handlers.token, ["POST"]),
        route("/user", handlers.get_user, ["GET"]),
        route("/user", handlers.update_user, ["PUT"]),
        route("/logout", handlers.logout, ["POST"]),
        route("/factors", handlers.enroll_factor, ["POST"]),
        route("/factors/{factor_id}/challenge", handlers.challenge_factor, ["POST"]),
        route("/factors/{factor_id}/verify", handlers.verify_factor, ["POST"]),
        route("/factors/{factor_id}", handlers.unenroll_factor, ["DELETE"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        version = request.headers.get(errors.API_VERSION_HEADER)
        if request.url.path.startswith(PREFIX + "/"):
            try:
                check_api_key(request.headers, request.query_params, svc.anon_key)
            except errors.GatewayError as refused:
                return errors.render(refused, version)
        return PlainTextResponse("404 page not found\n", status_code=404)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(svc.store.open)
        try:
            yield
        finally:
            await run_in_threadpool(svc.store.close)

    app = Starlette(
        routes=routes,
        middleware=[
            # Supabase's gateway answers CORS for every route, preflights without an apikey.
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=[errors.API_VERSION_HEADER, "x-sb-error-code"],
            )
        ],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )
    app.state.service = svc
    return app
