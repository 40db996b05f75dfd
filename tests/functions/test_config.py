"""The app refuses to start on configuration it cannot run safely with."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from functions.app import create_app
from switchyard.errors import ConfigError
from tests.functions.helpers import bearer, client_of


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


@pytest.mark.anyio
@pytest.mark.parametrize("login", ["authenticator", "postgres"])
async def test_a_login_role_that_can_do_more_than_a_user_serves_nothing(
    api_settings, db_url, make_user, caplog, login
):
    """`authenticator` can become service_role, `postgres` is everything: 503, and why."""
    alice = make_user("alice@example.com")
    params = conninfo_to_dict(db_url) | {"user": login}
    app = create_app(api_settings, conninfo=make_conninfo("", **params))
    async with client_of(app) as client:
        health = await client.get("/healthz")
        accounts = await client.get("/v1/accounts", headers=bearer(alice))
    assert (health.status_code, accounts.status_code) == (503, 503)
    assert accounts.headers["content-type"] == "application/problem+json"
    assert f"the functions' database login '{login}'" in caplog.text
    assert "switchyard_functions" in caplog.text
