"""What clients send and receive about accounts (the OpenAPI shows these, with examples)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from functions.api.schemas.common import (
    AccountStatusName,
    ExchangeName,
    ExchangeSecret,
    Name,
    Passphrase,
    Password,
    ServerName,
    VenueName,
)
from functions.api.schemas.exchange_keys import check_field
from functions.api.schemas.jobs import JobOut
from switchyard.domain import AccountId, RiskLimits, Venue


class _Connect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    make_default: bool = Field(
        default=False,
        strict=True,
        description=(
            "Make it your active account once verified (your first account always is); "
            "a rejected connection leaves your active account as it was."
        ),
    )
    risk_limits: RiskLimits = Field(default_factory=RiskLimits)


class ConnectMt5(_Connect):
    """A MetaTrader 5 login."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "mt5",
                    "name": "FTMO demo",
                    "login": 51234567,
                    "password": "your-mt5-password",
                    "server": "MetaQuotes-Demo",
                    "environment": "demo",
                }
            ]
        },
    )
    kind: Literal["mt5"]
    #: A JSON integer: never a boolean, a float or a string.
    login: Annotated[int, Strict(), Field(ge=1, le=99_999_999_999_999_999_999)]
    password: Password
    server: ServerName
    broker: Name | None = None
    environment: Literal["demo", "live"] = "demo"


class ConnectExchange(_Connect):
    """A crypto-exchange API key (trade permission; never withdrawal)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "exchange",
                    "exchange": "okx",
                    "name": "OKX testnet",
                    "api_key": "your-api-key",
                    "api_secret": "your-api-secret",
                    "passphrase": "your-passphrase",
                    "environment": "testnet",
                },
                {
                    "kind": "exchange",
                    "exchange": "coinbase",
                    "name": "Coinbase",
                    "api_key": "organizations/{org_id}/apiKeys/{key_id}",
                    "api_secret": (
                        "-----BEGIN EC PRIVATE KEY-----\n...\n-----END EC PRIVATE KEY-----\n"
                    ),
                    "environment": "live",
                },
            ]
        },
    )
    kind: Literal["exchange"]
    exchange: ExchangeName
    api_key: ExchangeSecret = Field(
        description="The API key; for Coinbase, the CDP key's name "
        "(`organizations/{org_id}/apiKeys/{key_id}`)."
    )
    api_secret: ExchangeSecret = Field(
        description="The API secret; for Coinbase, the CDP key's EC private key in PEM."
    )
    passphrase: Passphrase | None = Field(default=None, description="Required for OKX only.")
    environment: Literal["testnet", "demo", "live"] = Field(
        default="testnet",
        description="The exchange's testnet, its demo trading (Bybit, OKX, Binance) or live "
        "(Coinbase: live only).",
    )

    @field_validator("api_key", "api_secret")
    @classmethod
    def _key_shape(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        exchange = info.data.get("exchange")
        if exchange is None:  # refused already, for its own reason
            return value
        assert info.field_name is not None
        return SecretStr(check_field(exchange, info.field_name, value.get_secret_value()))

    @model_validator(mode="after")
    def _passphrase_for_okx(self) -> ConnectExchange:
        if self.exchange is Venue.OKX and self.passphrase is None:
            raise ValueError("an OKX API key needs its passphrase")
        if self.exchange is not Venue.OKX and self.passphrase is not None:
            raise ValueError(f"{self.exchange} API keys have no passphrase; leave it out")
        if self.exchange is Venue.COINBASE and self.environment != "live":
            raise ValueError(
                "Coinbase Advanced Trade has live accounts only (no testnet, no demo): "
                "set environment to live"
            )
        return self


ConnectRequest = Annotated[ConnectMt5 | ConnectExchange, Field(discriminator="kind")]


class Mt5Credentials(BaseModel):
    """A new password for an MT5 login (the login itself cannot change)."""

    model_config = ConfigDict(extra="forbid")
    password: Password


class ExchangeCredentials(BaseModel):
    """A new API key for an exchange account (checked against its exchange's key shape)."""

    model_config = ConfigDict(extra="forbid")
    api_key: ExchangeSecret
    api_secret: ExchangeSecret
    passphrase: Passphrase | None = None


class UpdateAccount(BaseModel):
    """Only the fields given change. New credentials are re-encrypted and re-verified."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Main", "is_active": True},
                {"credentials": {"password": "the-new-password"}},
            ]
        },
    )
    name: Name | None = None
    risk_limits: RiskLimits | None = None
    #: A JSON boolean: `"yes"`, `1` or `"false"` are refused, not guessed.
    is_active: Annotated[bool, Strict()] | None = None
    credentials: Mt5Credentials | ExchangeCredentials | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateAccount:
        if not self.model_fields_set - {k for k, v in self if v is None}:
            raise ValueError("nothing to change: give name, risk_limits, is_active or credentials")
        return self


class Balance(BaseModel):
    """The last balance the worker read from the venue."""

    balance: Decimal
    equity: Decimal | None = None
    margin: Decimal | None = None
    free_margin: Decimal | None = None
    currency: str
    leverage: int | None = None
    taken_at: datetime


class AccountOut(BaseModel):
    """An account as its owner sees it: never a secret, API keys masked."""

    id: AccountId
    kind: Literal["mt5", "exchange"]
    venue: VenueName
    name: str
    login: str | None = Field(description="The MT5 login; null for exchange accounts.")
    server: str | None
    broker: str | None
    api_key: str | None = Field(description="The exchange API key, masked (`abcd…wxyz`).")
    environment: Literal["demo", "live", "testnet"]
    status: AccountStatusName
    status_reason: str | None
    is_active: bool
    is_default: bool = Field(description="The account trades go to when none is named.")
    risk_limits: dict[str, Any]
    permissions: dict[str, Any]
    currency: str | None
    leverage: int | None
    verified_at: datetime | None
    synced_at: datetime | None
    created_at: datetime
    updated_at: datetime
    balance: Balance | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AccountOut:
        balance = None
        if row.get("balance") is not None:
            balance = Balance(
                balance=row["balance"],
                equity=row["equity"],
                margin=row["margin"],
                free_margin=row["free_margin"],
                currency=row["balance_currency"],
                leverage=row["balance_leverage"],
                taken_at=row["balance_taken_at"],
            )
        fields = {k: row[k] for k in cls.model_fields if k in row and k != "balance"}
        fields["api_key"] = row["api_key_masked"]
        fields["login"] = row["login"] if row["kind"] == "mt5" else None
        return cls(**fields, balance=balance)


class AccountPending(BaseModel):
    """The worker has not answered within the wait: poll the job."""

    detail: str
    account: AccountOut
    job: JobOut
