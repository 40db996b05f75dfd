"""Where the SQL lives: next to the package in a wheel, at the repository root otherwise."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_REPO = _PACKAGE.parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"none of {[str(c) for c in candidates]} exists")


def sql_dir() -> Path:
    """`sql/`: the Supabase compatibility layer and the named queries."""
    return _first_existing(_PACKAGE / "_sql", _REPO / "sql")


def migrations_dir() -> Path:
    """`supabase/migrations/`: the schema, as the Supabase CLI deploys it."""
    return _first_existing(_PACKAGE / "_migrations", _REPO / "supabase" / "migrations")


def web_dir() -> Path:
    """`web/`: the dashboard's static files (HTML, CSS, JS modules, vendored builds)."""
    return _first_existing(_PACKAGE / "_web", _REPO / "web")
