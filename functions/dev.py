"""`switchyard dev`: the local stack in the foreground until Ctrl-C.

Starts (or reuses) the embedded Postgres unless DATABASE_URL is set, migrates, makes
sure a development encryption key and JWT secret exist in the data directory, and
writes what runs where to `<data dir>/dev.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

from functions.core.db import connect
from functions.core.embedded import database_url
from functions.core.migrate import migrate
from functions.core.settings import Settings
from functions.core.vault import KeyRing, generate_key


def dev_encryption_keys(settings: Settings) -> str:
    """The environment's ring, else a development key kept in the data directory.

    Kept, not generated per start: a key that changes on restart would make every
    stored credential unreadable. Production commands never do this.
    """
    if settings.encryption_keys is not None:
        value = settings.encryption_keys.get_secret_value()
    else:
        path = settings.data_dir / "encryption_keys"
        if not path.exists():
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(generate_key())
        value = path.read_text().strip()
    KeyRing.parse(value)  # fail now, with the variable's name, if it is malformed
    return value


def write_dev_json(data_dir: Path, facts: dict[str, Any]) -> Path:
    path = data_dir / "dev.json"
    path.write_text(json.dumps(facts, indent=2) + "\n")
    return path


def run_dev(settings: Settings, _: argparse.Namespace) -> int:
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        applied = migrate(conn)
    os.environ["SWITCHYARD_ENCRYPTION_KEYS"] = dev_encryption_keys(settings)
    settings.jwt_secret()  # create the local secret now, not on the first request
    facts: dict[str, Any] = {
        "database_url": url,
        "embedded_database": settings.database_url is None,
        "migrations_applied_now": [m.version for m in applied],
        "data_dir": str(settings.data_dir.resolve()),
    }
    path = write_dev_json(settings.data_dir, facts)
    print("switchyard dev is running (Ctrl-C to stop)")
    for key, value in facts.items():
        print(f"  {key:24} {value}")
    print(f"  {'facts written to':24} {path}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    print("switchyard dev stopped")
    return 0
