"""The stand-in's configuration: read once, typed, and refused in production.

Every setting has a SWITCHYARD_SIM_AUTH_* variable (the command-line flags default to
them); DATABASE_URL, SWITCHYARD_DATA_DIR and SWITCHYARD_ENV mean what they mean for the
rest of switchyard, and SUPABASE_JWT_SECRET is the project's legacy JWT secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

ENV_DATABASE_URL: Final = "DATABASE_URL"
ENV_DATA_DIR: Final = "SWITCHYARD_DATA_DIR"
ENV_ENVIRONMENT: Final = "SWITCHYARD_ENV"
ENV_LEGACY_SECRET: Final = "SUPABASE_JWT_SECRET"  # noqa: S105 - a variable name
ENV_DATABASE_URL_OVERRIDE: Final = "SWITCHYARD_SIM_AUTH_DATABASE_URL"
ENV_PUBLIC_URL: Final = "SWITCHYARD_SIM_AUTH_PUBLIC_URL"
ENV_SITE_URL: Final = "SWITCHYARD_SIM_AUTH_SITE_URL"
ENV_JWT_EXP_S: Final = "SWITCHYARD_SIM_AUTH_JWT_EXP_S"
ENV_REUSE_INTERVAL_S: Final = "SWITCHYARD_SIM_AUTH_REFRESH_TOKEN_REUSE_INTERVAL_S"

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 54321
DEFAULT_DATA_DIR: Final = Path(".switchyard")
#: The Supabase CLI's `site_url` (supabase/config.toml): the default TOTP issuer's host.
DEFAULT_SITE_URL: Final = "http://127.0.0.1:3000"
#: GoTrue's JWT_EXP default and this project's `jwt_expiry`.
DEFAULT_JWT_EXP_S: Final = 3600
#: A hosted project's default "refresh token reuse interval".
DEFAULT_REUSE_INTERVAL_S: Final = 10


class ConfigError(Exception):
    """The stand-in cannot start with this configuration."""


@dataclass(frozen=True, kw_only=True)
class AuthConfig:
    """What one stand-in serves and where it keeps its state."""

    #: A connection with rights on the auth schema (locally: the service DATABASE_URL).
    database_url: str = field(repr=False)
    #: The base a Supabase client is created with; tokens say `iss` = <this>/auth/v1.
    public_url: str
    #: Where the signing key (and, if generated, the legacy JWT secret) live.
    data_dir: Path = DEFAULT_DATA_DIR
    #: GoTrue's SITE_URL: its host is the default issuer of TOTP enrolments.
    site_url: str = DEFAULT_SITE_URL
    #: Access token lifetime (GoTrue's JWT_EXP).
    jwt_exp_s: int = DEFAULT_JWT_EXP_S
    #: How long a just-rotated refresh token may still be used (GoTrue's
    #: SECURITY_REFRESH_TOKEN_REUSE_INTERVAL); past it, its reuse revokes the session.
    refresh_token_reuse_interval_s: int = DEFAULT_REUSE_INTERVAL_S
    #: The legacy HS256 secret; None: SUPABASE_JWT_SECRET, else `<data_dir>/jwt_secret`.
    legacy_jwt_secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"the public URL {self.public_url!r} is not an http(s) URL")
        if self.jwt_exp_s <= 0:
            raise ConfigError("the access token lifetime must be a positive number of seconds")
        if self.refresh_token_reuse_interval_s < 0:
            raise ConfigError("the refresh token reuse interval cannot be negative")

    @property
    def supabase_url(self) -> str:
        """What `create_client(supabase_url, anon_key)` is given."""
        return self.public_url.rstrip("/")

    @property
    def issuer(self) -> str:
        return f"{self.supabase_url}/auth/v1"

    @property
    def totp_issuer(self) -> str:
        return urlsplit(self.site_url).netloc


def refuse_production(environ: Mapping[str, str]) -> None:
    """The stand-in is a development tool: it never runs where SWITCHYARD_ENV=production."""
    if environ.get(ENV_ENVIRONMENT, "development").strip().lower() == "production":
        raise ConfigError(
            "the local Supabase Auth stand-in refuses to start with SWITCHYARD_ENV=production: "
            "point SUPABASE_URL at your hosted Supabase project instead"
        )


def database_url_from(environ: Mapping[str, str]) -> str | None:
    """The stand-in's own database URL, else the service DATABASE_URL."""
    return environ.get(ENV_DATABASE_URL_OVERRIDE) or environ.get(ENV_DATABASE_URL) or None


def int_from(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None


def data_dir_from(environ: Mapping[str, str]) -> Path:
    return Path(environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR)


def default_environ() -> Mapping[str, str]:
    return os.environ
