"""The web dashboard: its static files served as any static host would, and its config.

    switchyard dashboard --config dashboard.json [--host 127.0.0.1] [--port 8080]

`web/` is plain files (HTML, CSS, JS modules and vendored browser builds, no build step):
any static host can serve it. The page reads `config.json` from beside `index.html`:

    {"supabase_url": "...", "anon_key": "...", "functions_url": "..."}

This server serves `web/` with `/config.json` answered from the given file (re-read on
every request, so a rewritten file is seen at once) and the headers a host should send:
a Content-Security-Policy that lets the page load nothing but its own files and talk to
nothing but the configured Supabase and functions origins (so nothing is ever fetched
from a CDN), no framing, no referrer, no MIME sniffing. `switchyard dev` writes the
config into `<data dir>/dashboard/config.json` and runs this as a child.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.errors import ConfigError
from switchyard.paths import web_dir

#: The keys of config.json: where Supabase Auth and the functions are, and the anon key.
CONFIG_KEYS: Final = ("supabase_url", "anon_key", "functions_url")


def origin_of(url: str, key: str) -> str:
    """`scheme://host[:port]` of an http(s) URL, or ConfigError naming `key`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"dashboard config: {key} is not an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}"


def read_config(path: Path) -> dict[str, str]:
    """The config, checked: every key present, both URLs http(s). Never echoes a value."""
    try:
        loaded: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"dashboard config {path} cannot be read as JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"dashboard config {path} is not a JSON object")
    missing = [key for key in CONFIG_KEYS if not isinstance(loaded.get(key), str)]
    if missing:
        raise ConfigError(f"dashboard config {path} lacks {', '.join(missing)}")
    origin_of(loaded["supabase_url"], "supabase_url")
    origin_of(loaded["functions_url"], "functions_url")
    return {key: loaded[key] for key in CONFIG_KEYS}


def write_config(path: Path, *, supabase_url: str, anon_key: str, functions_url: str) -> Path:
    """Write the dashboard's config atomically (the anon key is public by design)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    config = {"supabase_url": supabase_url, "anon_key": anon_key, "functions_url": functions_url}
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def security_headers(config: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """What every answer carries; the CSP allows exactly the two configured API origins."""
    apis = " ".join(
        sorted({origin_of(config[key], key) for key in ("supabase_url", "functions_url")})
    )
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {apis}; font-src 'self'; manifest-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"cache-control", b"no-cache"),
    ]


class _Headers:
    """Adds the security headers (from the config as it is now) to every answer."""

    def __init__(self, app: ASGIApp, config_path: Path) -> None:
        self.app = app
        self.config_path = config_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(read_config(self.config_path))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in extra}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message = {**message, "headers": [*kept, *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def build_app(config_path: Path, static: Path | None = None) -> ASGIApp:
    """The dashboard as an ASGI app: `static` (default: web/) and `/config.json`."""
    read_config(config_path)  # refuse to start on a broken config, not on the first request

    async def config(_: Request) -> Response:
        return JSONResponse(read_config(config_path))

    app = Starlette(
        routes=[
            Route("/config.json", config, methods=["GET"]),
            Mount("/", StaticFiles(directory=static or web_dir(), html=True)),
        ]
    )
    return _Headers(app, config_path)


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="switchyard dashboard", description="Serve the web dashboard's static files."
    )
    parser.add_argument("--config", type=Path, required=True, help="the config.json to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    app = build_app(args.config)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
