"""The venue harness, once per adapter in `adapters.ADAPTERS`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchyard.vault import Vault
from tests.contract.adapters import ADAPTERS, Harness


@pytest.fixture(params=sorted(ADAPTERS))
def harness(request: pytest.FixtureRequest, tmp_path: Path, vault: Vault) -> Iterator[Harness]:
    with ADAPTERS[request.param](tmp_path, vault) as built:
        yield built
