"""Per-user request limits shared by every function process, kept in the database.

A sliding window of one minute per bucket (`private.take_rate_limit`): every request
charges the `all` bucket; endpoints that take credentials or make the venue verify
them also charge the stricter `credentials` bucket. A request is charged only if every
bucket has room; a refused one answers 429 with `Retry-After`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from psycopg import AsyncCursor
from psycopg.rows import DictRow

from functions.api.problems import RateLimited
from functions.core.queries import queries
from functions.core.settings import Settings

WINDOW_S = 60


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

    async def charge(self, cur: AsyncCursor[DictRow], buckets: tuple[Bucket, ...]) -> None:
        """Count this request against `buckets` or raise RateLimited (nothing counted)."""
        await cur.execute(
            queries["api_take_rate_limit"],
            {
                "buckets": [b.value for b in buckets],
                "limits": [self.per_window[b] for b in buckets],
                "window_s": self.window_s,
            },
        )
        row = await cur.fetchone()
        assert row is not None
        if not row["allowed"]:
            raise RateLimited(int(row["retry_after_s"]))
