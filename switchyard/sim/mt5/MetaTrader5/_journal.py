"""The audit journal: one JSON line per executed trade action, fsynced line by line."""

import json
import os
from pathlib import Path


class Journal:
    """Appends records to ``path``; a journal without a path records nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def append(self, record: dict[str, object]) -> None:
        if self.path is None:
            return
        line = json.dumps(record, sort_keys=True) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def truncate(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", encoding="utf-8") as fh:
            fh.flush()
            os.fsync(fh.fileno())
