"""Configuration, read once from the environment into typed settings.

Secrets are `SecretStr`: their `repr` is masked, so printing settings leaks nothing.
Every variable is documented in the README's configuration table.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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

    # --- the HTTP functions -------------------------------------------------------
    #: Clock skew tolerated on a token's `exp`/`nbf`/`iat`, in seconds.
    jwt_leeway_s: int = Field(default=10, ge=0, le=300, alias="SWITCHYARD_JWT_LEEWAY_S")
    #: How long fetched JWKS keys are trusted before a refresh is attempted.
    jwks_cache_ttl_s: float = Field(default=600, gt=0, alias="SWITCHYARD_JWKS_CACHE_TTL_S")
    #: At most one JWKS fetch per this many seconds, however many unknown `kid`s arrive.
    jwks_min_refetch_s: float = Field(default=30, ge=0, alias="SWITCHYARD_JWKS_MIN_REFETCH_S")
    #: Timeout of one JWKS fetch.
    jwks_timeout_s: float = Field(default=5, gt=0, alias="SWITCHYARD_JWKS_TIMEOUT_S")
    #: Requests per minute and user, shared by every function process.
    rate_limit_per_minute: int = Field(default=100, ge=1, alias="SWITCHYARD_RATE_LIMIT_PER_MINUTE")
    #: Stricter limit for endpoints that take credentials or ask the venue to verify them.
    credentials_rate_limit_per_minute: int = Field(
        default=10, ge=1, alias="SWITCHYARD_CREDENTIALS_RATE_LIMIT_PER_MINUTE"
    )
    #: Connections of one function process to the database.
    functions_pool_size: int = Field(default=10, ge=1, alias="SWITCHYARD_FUNCTIONS_POOL_SIZE")
    #: False behind a transaction pooler (Supavisor port 6543, PgBouncer): no prepared statements.
    functions_prepared_statements: bool = Field(
        default=True, alias="SWITCHYARD_FUNCTIONS_PREPARED_STATEMENTS"
    )
    #: LISTEN for finished jobs; False where the connection cannot (a transaction pooler).
    functions_listen: bool = Field(default=True, alias="SWITCHYARD_FUNCTIONS_LISTEN")
    #: How long a request waits for the worker when the client gives no `?wait=`.
    wait_default_s: float = Field(default=5, ge=0, alias="SWITCHYARD_WAIT_DEFAULT_S")
    #: The longest `?wait=` a client may ask for.
    wait_max_s: float = Field(default=30, ge=0, alias="SWITCHYARD_WAIT_MAX_S")
    #: While waiting, the job row is re-read at least this often (NOTIFY may not arrive).
    job_poll_interval_s: float = Field(default=1.0, gt=0, alias="SWITCHYARD_JOB_POLL_INTERVAL_S")
    #: Larger request bodies are refused with 413 before they are read.
    max_body_bytes: int = Field(default=65_536, ge=1024, alias="SWITCHYARD_MAX_BODY_BYTES")

    # --- the worker -------------------------------------------------------------------
    #: Comma-separated `host:port` addresses of mt5linux bridges; one lane per terminal.
    mt5_terminals: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="SWITCHYARD_MT5_TERMINALS"
    )
    #: Our magic number on every MT5 order: how our orders are told apart from others.
    mt5_magic: int = Field(default=20261121, ge=0, le=2**63 - 1, alias="SWITCHYARD_MT5_MAGIC")
    #: Longest wait for one terminal call (rpyc's own default is 300 s).
    mt5_call_timeout_s: float = Field(default=15.0, gt=0, alias="SWITCHYARD_MT5_CALL_TIMEOUT_S")
    #: The terminal's own login timeout; the call itself may take a few seconds more.
    mt5_login_timeout_s: float = Field(default=30.0, gt=0, alias="SWITCHYARD_MT5_LOGIN_TIMEOUT_S")
    #: The worker's name in leases and the registry (default: host name).
    worker_name: str | None = Field(default=None, alias="SWITCHYARD_WORKER_NAME")
    #: How long a job or terminal lease lasts without a heartbeat.
    worker_lease_s: float = Field(default=30.0, ge=1, alias="SWITCHYARD_WORKER_LEASE_S")
    #: How often leases are renewed (well under the lease).
    worker_heartbeat_s: float = Field(default=5.0, gt=0, alias="SWITCHYARD_WORKER_HEARTBEAT_S")
    #: Fallback poll when no NOTIFY arrives (lost notifications, restarts of the listener).
    worker_poll_s: float = Field(default=5.0, gt=0, alias="SWITCHYARD_WORKER_POLL_S")
    #: Fairness: a lane that prefers the account it is logged in to never lets it overtake
    #: another account's job that was due more than this much earlier.
    worker_fair_wait_s: float = Field(default=5.0, ge=0, alias="SWITCHYARD_WORKER_FAIR_WAIT_S")
    #: Fairness: at most this many jobs in a row for the logged-in account while others wait.
    worker_fair_streak: int = Field(default=8, ge=1, alias="SWITCHYARD_WORKER_FAIR_STREAK")
    #: Retry backoff of retryable failures: first wait and cap.
    worker_retry_base_s: float = Field(default=1.0, gt=0, alias="SWITCHYARD_WORKER_RETRY_BASE_S")
    worker_retry_max_s: float = Field(default=60.0, gt=0, alias="SWITCHYARD_WORKER_RETRY_MAX_S")
    #: On SIGTERM, how long running jobs may take to finish before the worker exits.
    worker_shutdown_grace_s: float = Field(
        default=30.0, ge=0, alias="SWITCHYARD_WORKER_SHUTDOWN_GRACE_S"
    )
    #: How often every verified account is synced (balance, positions, deals).
    sync_interval_s: float = Field(default=300.0, ge=1, alias="SWITCHYARD_SYNC_INTERVAL_S")
    #: How often every account's credentials are verified again.
    verify_interval_s: float = Field(default=86400.0, ge=1, alias="SWITCHYARD_VERIFY_INTERVAL_S")
    #: How often the worker looks for due syncs and verifications.
    schedule_tick_s: float = Field(default=5.0, gt=0, alias="SWITCHYARD_SCHEDULE_TICK_S")

    @field_validator("mt5_terminals", mode="before")
    @classmethod
    def _split_terminals(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("mt5_terminals")
    @classmethod
    def _check_terminals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            host, sep, port = address.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"SWITCHYARD_MT5_TERMINALS: {address!r} is not host:port")
        if len(set(value)) != len(value):
            raise ValueError("SWITCHYARD_MT5_TERMINALS lists the same terminal twice")
        return value

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
