"""The embedded Postgres: used when DATABASE_URL is unset, so a laptop needs nothing.

It is pgserver's Postgres binaries, with its data directory under the project
(`.switchyard/pgdata` by default) and a Unix socket inside it. The server is shared by
every switchyard process using that directory and stops when the last one exits.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from psycopg import sql

from switchyard.db import connect
from switchyard.errors import ConfigError
from switchyard.settings import Settings

#: The database switchyard uses inside the embedded cluster.
DATABASE = "switchyard"

_servers: dict[Path, Any] = {}


def _server(data_dir: Path) -> Any:
    pgdata = (data_dir / "pgdata").resolve()
    if pgdata not in _servers:
        pgdata.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # pgserver asks platformdirs for a runtime dir at import; on machines without
            # XDG_RUNTIME_DIR (containers, CI) that is a warning, not a problem.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            try:
                import pgserver
            except ImportError as exc:
                raise ConfigError(
                    "DATABASE_URL is not set and the embedded Postgres is not installed: "
                    "install switchyard[embedded] or set DATABASE_URL."
                ) from exc
            _servers[pgdata] = pgserver.get_server(pgdata)  # type: ignore[attr-defined]
    return _servers[pgdata]


def embedded_url(data_dir: Path, database: str = DATABASE) -> str:
    """Start (or reuse) the embedded cluster and make sure `database` exists."""
    server = _server(data_dir)
    admin_url: str = server.get_uri()
    with connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (database,)
        ).fetchone()
        if exists is None:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    url: str = server.get_uri(database)
    return url


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded database."""
    if settings.database_url:
        return settings.database_url
    return embedded_url(settings.data_dir)
