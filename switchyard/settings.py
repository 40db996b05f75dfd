"""Configuration, read once from the environment into typed settings.

Secrets are `SecretStr`: their `repr` is masked, so printing settings leaks nothing.
Every variable is documented in the README's configuration table.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from switchyard.errors import ConfigError

#: Where the embedded Postgres, the local JWT secret and dev.json live by default.
DEFAULT_DATA_DIR = Path(".switchyard")


class Settings(BaseSettings):
    """Everything switchyard reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    #: The service connection (migrations, worker). Unset: the embedded Postgres.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    #: The functions' connection: a login role that can only switch into anon/authenticated
    #: (`switchyard_functions`). Unset: DATABASE_URL's server as that role, no password.
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
    #: The project's anon (publishable) key: `switchyard login` signs in with it.
    supabase_anon_key: SecretStr | None = Field(default=None, alias="SUPABASE_ANON_KEY")
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
    #: `GET /v1/events`: a comment line every this many seconds when nothing else was sent.
    events_heartbeat_s: float = Field(
        default=15.0, gt=0, le=300, alias="SWITCHYARD_EVENTS_HEARTBEAT_S"
    )
    #: `GET /v1/events` without LISTEN (SWITCHYARD_FUNCTIONS_LISTEN=false, or while the
    #: listener reconnects): how often the event log is polled.
    events_poll_interval_s: float = Field(
        default=1.0, gt=0, le=60, alias="SWITCHYARD_EVENTS_POLL_INTERVAL_S"
    )
    #: Events waiting to be written to one slow client at most: beyond, its stream is closed
    #: and it resumes with Last-Event-ID.
    events_queue_size: int = Field(
        default=256, ge=1, le=100_000, alias="SWITCHYARD_EVENTS_QUEUE_SIZE"
    )
    #: How long a request waits for the worker when the client gives no `?wait=`.
    wait_default_s: float = Field(default=5, ge=0, alias="SWITCHYARD_WAIT_DEFAULT_S")
    #: The longest `?wait=` a client may ask for.
    wait_max_s: float = Field(default=30, ge=0, alias="SWITCHYARD_WAIT_MAX_S")
    #: While waiting, the job row is re-read at least this often (NOTIFY may not arrive).
    job_poll_interval_s: float = Field(default=1.0, gt=0, alias="SWITCHYARD_JOB_POLL_INTERVAL_S")
    #: Larger request bodies are refused with 413 before they are read.
    max_body_bytes: int = Field(default=65_536, ge=1024, alias="SWITCHYARD_MAX_BODY_BYTES")

    # --- the HTTP functions: trade deadlines and the client address ---------------------
    #: Time-to-live of a market order that gives no `ttl_s`: not started by then, cancelled.
    trade_ttl_market_s: int = Field(
        default=30, ge=1, le=86_400, alias="SWITCHYARD_TRADE_TTL_MARKET_S"
    )
    #: The same for placing a pending (limit/stop) order.
    trade_ttl_pending_s: int = Field(
        default=300, ge=1, le=86_400, alias="SWITCHYARD_TRADE_TTL_PENDING_S"
    )
    #: The same for closing a position (fully or partly).
    trade_ttl_close_s: int = Field(
        default=300, ge=1, le=86_400, alias="SWITCHYARD_TRADE_TTL_CLOSE_S"
    )
    #: The same for modifying a position or order, and for cancelling a pending order.
    trade_ttl_modify_s: int = Field(
        default=300, ge=1, le=86_400, alias="SWITCHYARD_TRADE_TTL_MODIFY_S"
    )
    #: Proxies in front of the functions that append to X-Forwarded-For: 0 = the client is
    #: the TCP peer; N = the N-th entry from the right (the peer when there are fewer).
    trusted_proxy_hops: int = Field(default=0, ge=0, le=16, alias="SWITCHYARD_TRUSTED_PROXY_HOPS")
    #: Origins (`https://dash.example.com`) whose pages may call the functions from a
    #: browser (CORS): each listed exactly, never `*`. Empty: no CORS headers at all.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="SWITCHYARD_CORS_ORIGINS"
    )

    # --- signals: the TradingView webhook -----------------------------------------------
    #: The functions' address as the world reaches it (`https://api.example.com`), for the
    #: webhook URLs of signal channels; the request's own base URL when unset.
    public_url: str | None = Field(default=None, alias="SWITCHYARD_PUBLIC_URL")
    #: Webhook deliveries per minute and channel (and, apart, refused wrong-secret ones).
    signal_rate_limit_per_minute: int = Field(
        default=60, ge=1, alias="SWITCHYARD_SIGNAL_RATE_LIMIT_PER_MINUTE"
    )
    #: A signal's trade jobs not started within this many seconds are cancelled, never sent.
    signal_ttl_s: int = Field(default=60, ge=1, le=86_400, alias="SWITCHYARD_SIGNAL_TTL_S")
    #: The same alert body (without an `id`) again within this window is a replay.
    signal_replay_window_s: int = Field(
        default=60, ge=1, le=86_400, alias="SWITCHYARD_SIGNAL_REPLAY_WINDOW_S"
    )

    # --- the worker -------------------------------------------------------------------
    #: Comma-separated mt5linux bridges, one lane each: `host:port` (serves any broker
    #: server) or `host:port=Server-A|Broker-*` (only those servers; `*` matches any run).
    mt5_terminals: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="SWITCHYARD_MT5_TERMINALS"
    )
    #: Our magic number on every MT5 order: how our orders are told apart from others.
    mt5_magic: int = Field(default=20261121, ge=0, le=2**63 - 1, alias="SWITCHYARD_MT5_MAGIC")
    #: Longest wait for one terminal call (rpyc's own default is 300 s).
    mt5_call_timeout_s: float = Field(default=15.0, gt=0, alias="SWITCHYARD_MT5_CALL_TIMEOUT_S")
    #: The terminal's own login timeout; the call itself may take a few seconds more.
    mt5_login_timeout_s: float = Field(default=30.0, gt=0, alias="SWITCHYARD_MT5_LOGIN_TIMEOUT_S")
    #: The bridges in SWITCHYARD_MT5_TERMINALS are on a private network (or the far end of
    #: a tunnel) that only the worker reaches: allows addresses other than loopback. An
    #: mt5linux bridge is an unauthenticated rpyc server that runs any code it is sent.
    mt5_private_network: bool = Field(default=False, alias="SWITCHYARD_MT5_PRIVATE_NETWORK")
    #: Exchange accounts: how many lanes serve them (accounts served at once; each account
    #: is served serially). 0: this worker serves no exchange accounts.
    exchange_lanes: int = Field(default=4, ge=0, le=64, alias="SWITCHYARD_EXCHANGE_LANES")
    #: Longest wait for one HTTP request to an exchange (ccxt's `timeout`).
    exchange_call_timeout_s: float = Field(
        default=10.0, gt=0, le=120, alias="SWITCHYARD_EXCHANGE_CALL_TIMEOUT_S"
    )
    #: JSON `{"binance": {"public": url, ...}, ...}`: replaces ccxt's `urls['api']` of the
    #: exchanges named (the simulated exchange; `switchyard dev` sets it). Empty: the real ones.
    exchange_api_urls: dict[str, dict[str, str]] = Field(
        default_factory=dict, alias="SWITCHYARD_EXCHANGE_API_URLS"
    )
    #: Accept exchange keys that may withdraw funds (refused by default).
    exchange_allow_withdraw: bool = Field(default=False, alias="SWITCHYARD_EXCHANGE_ALLOW_WITHDRAW")
    #: How many exchange accounts keep a session (ccxt instance) between jobs.
    exchange_sessions_max: int = Field(default=5000, ge=1, alias="SWITCHYARD_EXCHANGE_SESSIONS_MAX")
    #: The request budget shared by every account of one exchange, as a multiple of the
    #: exchange's documented limit (ccxt's `rateLimit`): below 1 to leave room for other
    #: clients behind the same address; 0 turns it off (the simulator has no limit).
    exchange_rate_scale: float = Field(default=1.0, ge=0, alias="SWITCHYARD_EXCHANGE_RATE_SCALE")
    #: The egress address the budget is counted for (requests leave from it; one budget
    #: per exchange and address). Empty: the host's default route.
    exchange_egress: str = Field(default="", alias="SWITCHYARD_EXCHANGE_EGRESS")
    #: The worker's name in leases and the registry (default: host name).
    worker_name: str | None = Field(default=None, alias="SWITCHYARD_WORKER_NAME")
    #: How long a job or terminal lease lasts without a heartbeat.
    worker_lease_s: float = Field(default=30.0, ge=1, alias="SWITCHYARD_WORKER_LEASE_S")
    #: How often leases are renewed (well under the lease).
    worker_heartbeat_s: float = Field(default=5.0, gt=0, alias="SWITCHYARD_WORKER_HEARTBEAT_S")
    #: A worker statement that runs (or waits for a lock) longer is cancelled, so that a
    #: lane never hangs on the database while its job's lease is renewed.
    worker_statement_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, alias="SWITCHYARD_WORKER_STATEMENT_TIMEOUT_S"
    )
    #: Fallback poll when no NOTIFY arrives (lost notifications, restarts of the listener).
    worker_poll_s: float = Field(default=5.0, gt=0, alias="SWITCHYARD_WORKER_POLL_S")
    #: A lane drains the queue of the account it is logged in to for at most this long
    #: while other accounts' jobs wait; then the oldest due job goes next.
    worker_drain_s: float = Field(default=2.0, ge=0, le=60, alias="SWITCHYARD_WORKER_DRAIN_S")
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

    @field_validator("database_url", "functions_database_url")
    @classmethod
    def _check_conninfo(cls, value: str | None) -> str | None:
        # Checked at start, before anything connects. Neither the value nor libpq's
        # message (which quotes the part it could not parse) is repeated: either may hold
        # a password.
        if value is None:
            return None
        try:
            conninfo_to_dict(value)
        except psycopg.ProgrammingError:
            raise ValueError(
                "not a PostgreSQL connection string that libpq can parse; expected "
                "postgresql://user:password@host:5432/dbname (percent-encode special "
                "characters in the password)"
            ) from None
        return value

    @field_validator("supabase_url")
    @classmethod
    def _check_supabase_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("not an http(s) URL; expected https://<project-ref>.supabase.co")
        return value

    @field_validator("mt5_terminals", mode="before")
    @classmethod
    def _split_terminals(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("mt5_terminals")
    @classmethod
    def _check_terminals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        addresses = [terminal_spec(entry)[0] for entry in value]
        if len(set(addresses)) != len(addresses):
            raise ValueError("SWITCHYARD_MT5_TERMINALS lists the same terminal twice")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(cors_origin(origin) for origin in value))

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


def terminal_spec(entry: str) -> tuple[str, tuple[str, ...] | None]:
    """One SWITCHYARD_MT5_TERMINALS entry as (address, the servers it serves or None: any).

    `host:port` or `host:port=Server-A|Broker-Live*`; ValueError names what is wrong."""
    address, sep, servers_text = entry.partition("=")
    address = address.strip()
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"SWITCHYARD_MT5_TERMINALS: {address!r} is not host:port")
    if not sep:
        return address, None
    servers = tuple(s.strip() for s in servers_text.split("|") if s.strip())
    if not servers:
        raise ValueError(
            f"SWITCHYARD_MT5_TERMINALS: {address!r} is followed by '=' but names no server; "
            "write host:port=Server-A|Server-B, or host:port alone for any server"
        )
    return address, servers


#: The functions' own login role (created by the migrations, without a password): it can
#: switch into `anon` and `authenticated` only, and can read nothing by itself.
FUNCTIONS_LOGIN_ROLE = "switchyard_functions"


def functions_url_from(database_url: str) -> str:
    """The same database, logged in as the functions' own role, without the password.

    Fits a local server that trusts local connections (the embedded one, CI); anywhere
    else set SWITCHYARD_FUNCTIONS_DATABASE_URL with the password the operator gave it.
    """
    params = conninfo_to_dict(database_url)
    params.pop("password", None)
    params["user"] = FUNCTIONS_LOGIN_ROLE
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def cors_origin(origin: str) -> str:
    """`origin` as a browser sends it in `Origin` (scheme://host[:port], lower case), or
    ValueError: a wildcard, a path or a missing scheme would allow more than was meant."""
    if "*" in origin:
        raise ValueError(
            "SWITCHYARD_CORS_ORIGINS: '*' is not allowed; list each origin, "
            "e.g. https://dash.example.com"
        )
    parts = urlsplit(origin)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or port == -1
    ):
        raise ValueError(
            f"SWITCHYARD_CORS_ORIGINS: {origin!r} is not an origin; expected "
            "scheme://host[:port] with no path, e.g. https://dash.example.com"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def load_settings() -> Settings:
    """Read the environment; a malformed value stops the program with its name.

    The message names each variable and what is wrong with it, never the value: a
    connection string or a key may be what was malformed.
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
