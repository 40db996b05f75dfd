"""Configuration, read once from the environment into typed settings.

Secrets are `SecretStr`: their `repr` is masked, so printing settings leaks nothing.
Every variable is documented in the README's configuration table.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from functions.core.errors import ConfigError

#: Where the embedded Postgres, the local JWT secret and dev.json live by default.
DEFAULT_DATA_DIR = Path(".switchyard")


class Settings(BaseSettings):
    """Everything switchyard reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    #: The service connection (migrations, worker). Unset: the embedded Postgres.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    #: The functions' connection: a login role that can only switch into the API roles.
    functions_database_url: str | None = Field(
        default=None, alias="SWITCHYARD_FUNCTIONS_DATABASE_URL"
    )
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, alias="SWITCHYARD_DATA_DIR")
    #: Comma-separated Fernet keys, newest first.
    encryption_keys: SecretStr | None = Field(default=None, alias="SWITCHYARD_ENCRYPTION_KEYS")
    environment: Literal["development", "production"] = Field(
        default="development", alias="SWITCHYARD_ENV"
    )
    #: https://<ref>.supabase.co for a hosted project; its JWKS verifies access tokens.
    supabase_url: str | None = Field(default=None, alias="SUPABASE_URL")
    #: The legacy/local HS256 secret. Unset locally: generated once into the data dir.
    supabase_jwt_secret: SecretStr | None = Field(default=None, alias="SUPABASE_JWT_SECRET")
    jwt_audience: str = Field(default="authenticated", alias="SWITCHYARD_JWT_AUDIENCE")
    #: Checked when set; Supabase issues `<SUPABASE_URL>/auth/v1`.
    jwt_issuer: str | None = Field(default=None, alias="SWITCHYARD_JWT_ISSUER")

    @cached_property
    def local_issuer(self) -> str:
        """The `iss` claim of tokens minted by `switchyard token`."""
        if self.jwt_issuer:
            return self.jwt_issuer
        base = (self.supabase_url or "http://127.0.0.1:54321").rstrip("/")
        return f"{base}/auth/v1"

    def jwt_secret(self) -> SecretStr:
        """The HS256 secret: the environment's, else one generated once per data dir."""
        if self.supabase_jwt_secret is not None:
            return self.supabase_jwt_secret
        if self.environment == "production":
            raise ConfigError(
                "SUPABASE_JWT_SECRET is not set: copy it from your Supabase project's "
                "API settings (a generated one is only for local development)."
            )
        path = self.data_dir / "jwt_secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return SecretStr(path.read_text().strip())


def functions_url_from(database_url: str) -> str:
    """The same database, logged in as `authenticator` (which can read nothing itself)."""
    params = conninfo_to_dict(database_url)
    params.pop("password", None)
    params["user"] = "authenticator"
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def load_settings() -> Settings:
    """Read the environment; a malformed value stops the program with its name."""
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc
