"""Fixtures for tests that need the local Supabase Auth stand-in beside the functions
(import them into the test module: `from tests.functions.stand_in import api, stand_in`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sim_auth.conftest import ThreadedAuth, serve_in_thread
from tests.sim_auth.helpers import close_clients


@pytest.fixture
def stand_in(db_url: str, tmp_path: Path) -> Iterator[ThreadedAuth]:
    """The local Supabase Auth, on the test's database (as `switchyard dev` runs it)."""
    handle = serve_in_thread(db_url, tmp_path / "auth-data")
    yield handle
    close_clients()
    handle.stop()


@pytest.fixture
async def api(make_client: Any, stand_in: ThreadedAuth) -> Any:
    """The functions, verifying tokens through the stand-in's JWKS and issuer."""
    return await make_client(
        supabase_url=stand_in.supabase_url, jwt_issuer=f"{stand_in.supabase_url}/auth/v1"
    )
