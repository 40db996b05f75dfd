"""The app refuses to start on configuration it cannot run safely with."""

from __future__ import annotations

import pytest

from functions.app import create_app
from functions.core.errors import ConfigError


@pytest.mark.parametrize("keys", [None, "", "not-a-fernet-key", "a,b"])
def test_missing_or_malformed_encryption_keys_stop_the_app(api_settings, keys):
    settings = api_settings.model_copy(update={"encryption_keys": None})
    if keys is not None:
        from pydantic import SecretStr

        settings = settings.model_copy(update={"encryption_keys": SecretStr(keys)})
    with pytest.raises(ConfigError, match="SWITCHYARD_ENCRYPTION_KEYS") as caught:
        create_app(settings)
    if keys:
        assert keys not in str(caught.value)


def test_production_without_any_token_verification_stops_the_app(api_settings):
    settings = api_settings.model_copy(
        update={
            "environment": "production",
            "supabase_jwt_secret": None,
            "supabase_url": None,
        }
    )
    with pytest.raises(ConfigError, match="SUPABASE_URL"):
        create_app(settings)


def test_production_with_only_the_jwks_starts(api_settings):
    settings = api_settings.model_copy(
        update={
            "environment": "production",
            "supabase_jwt_secret": None,
            "supabase_url": "https://proj.supabase.co",
        }
    )
    assert create_app(settings).title == "switchyard"
