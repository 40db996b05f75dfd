"""What clients send and receive about accounts (the OpenAPI shows these, with examples)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.api.schemas.common import ApiSecret, Name, Passphrase, Password, ServerName
from functions.api.schemas.jobs import JobOut
from functions.core.domain import RiskLimits

_Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._/:#-]+$")]


class _Connect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    make_default: bool = Field(
        default=False,
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
    login: Annotated[int, Field(ge=1, le=99_999_999_999_999_999_999)]
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
                }
            ]
        },
    )
    kind: Literal["exchange"]
    exchange: Literal["binance", "bybit", "okx"]
    api_key: ApiSecret
    api_secret: ApiSecret
    passphrase: Passphrase | None = Field(default=None, description="Required for OKX only.")
    environment: Literal["testnet", "live"] = "testnet"

    @model_validator(mode="after")
    def _passphrase_for_okx(self) -> ConnectExchange:
        if self.exchange == "okx" and self.passphrase is None:
            raise ValueError("an OKX API key needs its passphrase")
        if self.exchange != "okx" and self.passphrase is not None:
            raise ValueError(f"{self.exchange} API keys have no passphrase; leave it out")
        return self


ConnectRequest = Annotated[ConnectMt5 | ConnectExchange, Field(discriminator="kind")]


class Mt5Credentials(BaseModel):
    """A new password for an MT5 login (the login itself cannot change)."""

    model_config = ConfigDict(extra="forbid")
    password: Password


class ExchangeCredentials(BaseModel):
    """A new API key for an exchange account."""

    model_config = ConfigDict(extra="forbid")
    api_key: ApiSecret
    api_secret: ApiSecret
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
    is_active: bool | None = None
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

    id: UUID
    kind: Literal["mt5", "exchange"]
    venue: Literal["mt5", "binance", "bybit", "okx"]
    name: str
    login: str | None = Field(description="The MT5 login; null for exchange accounts.")
    server: str | None
    broker: str | None
    api_key: str | None = Field(description="The exchange API key, masked (`abcd…wxyz`).")
    environment: Literal["demo", "live", "testnet"]
    status: Literal["pending", "verified", "failed", "disabled"]
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
