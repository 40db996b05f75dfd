"""Serve the Supabase Auth stand-in over HTTP (uvicorn), in this process or a child one.

    uv run python -m switchyard.sim.auth.server --port 54321
    DATABASE_URL=... uv run python -m switchyard.sim.auth.server --port 0   # a free port

The database must already hold GoTrue's tables (`switchyard db migrate` applies
sql/compat/10_supabase_auth.sql on plain Postgres). Settings come from the flags, which
default to the SWITCHYARD_SIM_AUTH_* variables (see config.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import uvicorn

from switchyard.sim.auth import config as cfg
from switchyard.sim.auth import keys
from switchyard.sim.auth.app import build_app
from switchyard.sim.launching import read_ready_port

READY_PREFIX: Final = "SWITCHYARD_SIM_AUTH_READY"


class _Server(uvicorn.Server):
    """uvicorn, announcing on stdout once it accepts connections."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit and sockets:
            host, port = sockets[0].getsockname()[:2]
            print(f"{READY_PREFIX} {host} {port}", flush=True)


def serve(config: cfg.AuthConfig, sock: socket.socket) -> None:
    """Serve `config` on the bound socket `sock` until interrupted."""
    app = build_app(config)
    server = _Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@dataclass
class AuthProcess:
    """A stand-in running in a child process; `stop()` ends it."""

    process: subprocess.Popen[str] = field(repr=False)
    host: str
    port: int
    data_dir: Path

    @property
    def supabase_url(self) -> str:
        """What `create_client` is given (the stand-in serves under /auth/v1)."""
        return f"http://{self.host}:{self.port}"

    @property
    def anon_key(self) -> str:
        return (self.data_dir / keys.ANON_KEY_FILE).read_text(encoding="utf-8").strip()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_subprocess(
    database_url: str,
    data_dir: Path,
    *,
    host: str = cfg.DEFAULT_HOST,
    port: int = 0,
    public_url: str | None = None,
    jwt_exp_s: int = cfg.DEFAULT_JWT_EXP_S,
    refresh_token_reuse_interval_s: int = cfg.DEFAULT_REUSE_INTERVAL_S,
    site_url: str = cfg.DEFAULT_SITE_URL,
    env: Mapping[str, str] | None = None,
    startup_timeout_s: float = 30.0,
) -> AuthProcess:
    """Start `python -m switchyard.sim.auth.server`; return once it accepts requests.

    `port=0` picks a free port (read back from the ready line). `env` replaces this
    process's environment for the child (default: inherited).
    """
    child_env = dict(os.environ if env is None else env)
    child_env[cfg.ENV_DATABASE_URL_OVERRIDE] = database_url
    argv = [
        sys.executable, "-m", "switchyard.sim.auth.server", "--host", host,
        "--port", str(port), "--data-dir", str(data_dir), "--jwt-exp", str(jwt_exp_s),
        "--refresh-token-reuse-interval", str(refresh_token_reuse_interval_s),
        "--site-url", site_url,
    ]  # fmt: skip
    if public_url:
        argv += ["--public-url", public_url]
    process = subprocess.Popen(argv, env=child_env, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our module, fixed argv
    handle = AuthProcess(process, host, port, data_dir)
    try:
        handle.port = read_ready_port(
            process,
            READY_PREFIX,
            "the Supabase Auth stand-in",
            time.monotonic() + startup_timeout_s,
        )
    except BaseException:
        handle.stop()
        raise
    return handle


def main(argv: Sequence[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="switchyard sim auth",
        description="A local stand-in for Supabase Auth (email, password, TOTP MFA).",
    )
    parser.add_argument("--host", default=cfg.DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=cfg.DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument(
        "--public-url",
        default=env.get(cfg.ENV_PUBLIC_URL),
        help="the base clients use (default http://<host>:<port>); tokens' iss is <it>/auth/v1",
    )
    parser.add_argument("--data-dir", type=Path, default=cfg.data_dir_from(env))
    parser.add_argument(
        "--database-url",
        default=cfg.database_url_from(env),
        help="a connection with rights on the auth schema (default: DATABASE_URL)",
    )
    parser.add_argument("--site-url", default=env.get(cfg.ENV_SITE_URL, cfg.DEFAULT_SITE_URL))
    parser.add_argument(
        "--jwt-exp",
        type=int,
        default=cfg.int_from(env, cfg.ENV_JWT_EXP_S, cfg.DEFAULT_JWT_EXP_S),
        help="access token lifetime in seconds",
    )
    parser.add_argument(
        "--refresh-token-reuse-interval",
        type=int,
        default=cfg.int_from(env, cfg.ENV_REUSE_INTERVAL_S, cfg.DEFAULT_REUSE_INTERVAL_S),
        help="seconds a rotated refresh token may still be used",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if not args.database_url:
        print(
            "switchyard sim auth: no database: set DATABASE_URL (or pass --database-url) to a "
            "database migrated with `switchyard db migrate`",
            file=sys.stderr,
        )
        return 2
    try:
        cfg.refuse_production(env)
        sock = bind(args.host, args.port)
        port = sock.getsockname()[1]
        config = cfg.AuthConfig(
            database_url=args.database_url,
            public_url=args.public_url or f"http://{args.host}:{port}",
            data_dir=args.data_dir,
            site_url=args.site_url,
            jwt_exp_s=args.jwt_exp,
            refresh_token_reuse_interval_s=args.refresh_token_reuse_interval,
            legacy_jwt_secret=env.get(cfg.ENV_LEGACY_SECRET) or None,
        )
    except cfg.ConfigError as exc:
        print(f"switchyard sim auth: {exc}", file=sys.stderr)
        return 2
    serve(config, sock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
