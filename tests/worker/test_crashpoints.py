"""The crash-point test switch can never arm a production worker."""

from __future__ import annotations

import pytest

from switchyard.errors import ConfigError
from worker.crashpoints import ENV, refuse_in_production


def test_a_production_worker_refuses_the_crash_switch(monkeypatch):
    monkeypatch.setenv(ENV, "after_send:1")
    with pytest.raises(ConfigError, match="refused when SWITCHYARD_ENV=production"):
        refuse_in_production("production")
    refuse_in_production("development")  # tests arm it in development only
    monkeypatch.delenv(ENV)
    refuse_in_production("production")
