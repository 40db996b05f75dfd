"""What clients send and receive about API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from functions.api.schemas.common import Name, one_of
from functions.api.scopes import GRANTABLE

if TYPE_CHECKING:
    ScopeName: TypeAlias = str
else:
    #: A scope a token can be given: `read`, `trade`, `accounts`.
    ScopeName = one_of(GRANTABLE)

#: How long a token lives when the request does not say.
DEFAULT_EXPIRY_DAYS = 90


class CreateApiToken(BaseModel):
    """A token for a script: what it may do and for how long."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "cron", "scopes": ["read", "trade"], "expires_in_days": 90}]
        },
    )
    name: Name
    scopes: Annotated[list[ScopeName], Field(min_length=1, max_length=len(GRANTABLE))] = Field(
        description="`read` (GET your accounts, trades and jobs), `trade` (POST /v1/trades), "
        "`accounts` (connect, change, switch, verify, delete accounts)."
    )
    expires_in_days: int = Field(
        default=DEFAULT_EXPIRY_DAYS, ge=1, le=365, strict=True, description="1 to 365 days."
    )


class ApiTokenOut(BaseModel):
    """A token as listed: never the token itself."""

    id: UUID
    name: str
    scopes: list[ScopeName]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApiTokenOut:
        return cls.model_validate({k: row.get(k) for k in cls.model_fields})


class ApiTokenCreated(ApiTokenOut):
    """The new token, with the token: shown this once, never again."""

    token: str = Field(
        description="Send it as `Authorization: Bearer <token>`. Only its hash is kept: "
        "copy it now."
    )
