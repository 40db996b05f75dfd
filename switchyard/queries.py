"""Named SQL: every `sql/queries/*.sql` file holds blocks headed `-- name: <query>`.

Python refers to a query only by name: `queries["claim_job"]`. A duplicate name or a
block without a name is an error at load time, not a surprise at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import LiteralString

from switchyard.paths import sql_dir

_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse(text: str, origin: str) -> dict[str, LiteralString]:
    """Split one file into its named blocks."""
    found: dict[str, LiteralString] = {}
    headers = list(_HEADER.finditer(text))
    preamble = text[: headers[0].start()] if headers else text
    if any(line.strip() and not line.lstrip().startswith("--") for line in preamble.splitlines()):
        raise ValueError(f"{origin}: SQL before the first '-- name:' header")
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        body = text[header.end() : end].strip()
        name = header.group(1)
        if not body:
            raise ValueError(f"{origin}: query {name!r} is empty")
        if name in found:
            raise ValueError(f"{origin}: query {name!r} is defined twice")
        # Our own files, read from the package: as trusted as a literal in the source.
        found[name] = body
    return found


def load(directory: Path) -> dict[str, LiteralString]:
    """Every named query under `directory`, across files; names are global."""
    merged: dict[str, LiteralString] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, body in parse(path.read_text(), path.name).items():
            if name in merged:
                raise ValueError(f"{path.name}: query {name!r} is already defined elsewhere")
            merged[name] = body
    return merged


class _Queries(Mapping[str, LiteralString]):
    """Loaded on first use, so importing the package reads no file."""

    def __init__(self) -> None:
        self._loaded: dict[str, LiteralString] | None = None

    def _all(self) -> dict[str, LiteralString]:
        if self._loaded is None:
            self._loaded = load(sql_dir() / "queries")
        return self._loaded

    def __getitem__(self, name: str) -> LiteralString:
        try:
            return self._all()[name]
        except KeyError:
            raise KeyError(f"no query named {name!r} in sql/queries") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


queries: Mapping[str, LiteralString] = _Queries()
