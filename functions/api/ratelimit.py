"""Per-user request limits shared by every function process, kept in the database.

A sliding window of one minute per bucket (`private.take_rate_limit`): every request
charges the `all` bucket; endpoints that take credentials or make the venue verify
them also charge the stricter `credentials` bucket. A request is charged only if every
bucket has room; a refused one answers 429 with `Retry-After`. Only the functions' login
role (`switchyard_functions`) may charge, for the user id of the verified token.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg import AsyncCursor
from psycopg.rows import DictRow

from functions.api.auth import Principal
from functions.api.problems import RateLimited
from switchyard.db import role_params
from switchyard.queries import queries
from switchyard.settings import Settings

WINDOW_S = 60
#: private.charge_request's refusal.
RATE_LIMITED_SQLSTATE = "SW429"


class Bucket(enum.StrEnum):
    ALL = "all"  #: every authenticated request
    CREDENTIALS = "credentials"  #: connect, new credentials, verify


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests per window, per bucket."""

    per_window: dict[Bucket, int]
    window_s: int = WINDOW_S

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        return cls(
            per_window={
                Bucket.ALL: settings.rate_limit_per_minute,
                Bucket.CREDENTIALS: settings.credentials_rate_limit_per_minute,
            }
        )

    async def charge_and_become(
        self,
        cur: AsyncCursor[DictRow],
        principal: Principal,
        buckets: tuple[Bucket, ...],
        headers: Mapping[str, str],
    ) -> None:
        """Send, as the first statement of the request's first transaction, the charge of
        `buckets` for the token's user and the switch into `authenticated` with its claims.

        One statement, and its answer is not awaited: in pipeline mode the request's own
        query travels behind it in the same round trip. The charge runs as the functions'
        login role (only that role may charge; `authenticated` could otherwise reset its
        own counters) before the select list switches the role. A refusal is SQLSTATE
        SW429 (`refusal` makes it a 429), and it aborts the transaction: nothing counted,
        nothing of the request run. A user that no longer exists is SQLSTATE 28000 (401).
        """
        await cur.execute(
            queries["api_charge_and_become"],
            {
                **role_params("authenticated", principal.claims, headers),
                "user_id": principal.user_id,
                "buckets": [b.value for b in buckets],
                "limits": [self.per_window[b] for b in buckets],
                "window_s": self.window_s,
            },
        )


def refusal(exc: BaseException) -> RateLimited | None:
    """The 429 of a charge the database refused (SQLSTATE SW429, the wait in its detail)."""
    if not isinstance(exc, psycopg.Error) or exc.sqlstate != RATE_LIMITED_SQLSTATE:
        return None
    wait_s = exc.diag.message_detail or ""
    return RateLimited(int(wait_s) if wait_s.isdigit() else 1)
