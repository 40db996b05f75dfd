"""`switchyard functions`: the app under uvicorn, in the foreground."""

from __future__ import annotations

import uvicorn

from functions.app import create_app
from functions.core.settings import Settings


def serve(settings: Settings, host: str, port: int) -> int:
    """Serve until interrupted; 0 on a clean stop. A bad configuration fails before binding."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=True,  # client address from X-Forwarded-For of trusted proxies only
        server_header=False,
        log_level="info",
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
