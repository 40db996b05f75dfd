"""`switchyard functions`: the app under uvicorn, in the foreground.

On SIGINT/SIGTERM the open event streams are ended first (`event: end`, reason
`shutdown`), so that uvicorn's graceful shutdown does not wait for clients to leave.

The access log never holds a credential: a query parameter that carries one (a token
pasted into a URL, which the API refuses anyway) is written as `[redacted]`. The client
address is the app's to resolve (functions/api/clientaddr.py), not uvicorn's.
"""

from __future__ import annotations

import asyncio
from types import FrameType

import uvicorn
from fastapi import FastAPI

from functions.api.accesslog import install_log_redaction
from functions.app import create_app
from switchyard.settings import Settings


def serve(settings: Settings, host: str, port: int) -> int:
    """Serve until interrupted; 0 on a clean stop. A bad configuration fails before binding."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # The app resolves the client address itself (SWITCHYARD_TRUSTED_PROXY_HOPS): with
        # uvicorn's proxy headers the "peer" it sees would already be an X-Forwarded-For entry.
        proxy_headers=False,
        server_header=False,
        log_level="info",
    )
    install_log_redaction()  # after Config: it configures uvicorn's logging
    server = _Server(config, app)
    server.run()
    return 0 if server.started else 1


class _Server(uvicorn.Server):
    """uvicorn, ending the event streams as soon as it is told to stop.

    uvicorn's graceful shutdown waits for every response to finish, and an event stream
    never does by itself: each is ended (`event: end`, reason `shutdown`, so its client
    resumes elsewhere with Last-Event-ID) before the wait begins.
    """

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            loop.call_soon_threadsafe(self._app.state.runtime.events.close_all)
        super().handle_exit(sig, frame)
