"""The journal: open positions, the venue's deals, realised P&L and the equity series.

    curl $URL/v1/positions -H "Authorization: Bearer $TOKEN"
    curl "$URL/v1/pnl?group_by=day&since=2026-12-01T00:00:00Z" -H "Authorization: Bearer $TOKEN"

Reads only, each one RLS-scoped select of what the worker stored from the venue (after
every trade and every sync): nothing is recomputed from our own requests. Pages are
newest first with `next` the URL of the older page, as `GET /v1/trades`; the cursor is
the last item's time and a tiebreak (`before` and `before_seq` for deals, in the venue's
order; `before_id` for positions), so items that share a time (a venue's one-second
clock) are never skipped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeAlias

from fastapi import APIRouter, Query

from functions.api import store
from functions.api.deps import UserDb
from functions.api.openapi import documented
from functions.api.paging import Before, BeforeId, next_page
from functions.api.problems import Problem
from functions.api.schemas.common import IsoDateTime, SymbolName, one_of
from functions.api.schemas.journal import (
    DealOut,
    DealPage,
    EquityOut,
    EquityPoint,
    GroupBy,
    PnlGroup,
    PnlOut,
    PositionOut,
    PositionPage,
)
from functions.api.scopes import Scope
from functions.api.statuses import AUTHENTICATED, BY_ID, Outcome
from functions.api.transactions import Cursor
from switchyard.domain import AccountId
from switchyard.queries import queries

if TYPE_CHECKING:
    GroupByName: TypeAlias = str
else:
    GroupByName = one_of(GroupBy)

router = APIRouter(tags=["journal"])

#: An IANA time zone name as Postgres knows them (`Europe/Berlin`, `UTC`).
_TZ_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")
#: The most points an equity series answers with.
MAX_POINTS: Final = 2000

Limit = Annotated[int, Query(ge=1, le=200, description="Items per page (1-200).")]
Since = Annotated[
    IsoDateTime | None,
    Query(description="From this ISO 8601 date-time with its offset on (inclusive)."),
]
Until = Annotated[
    IsoDateTime | None,
    Query(description="Up to this ISO 8601 date-time with its offset (exclusive)."),
]
Symbol = Annotated[
    SymbolName | None,
    Query(description="One symbol, as the venue spells it (`EURUSD`, `XAUUSD.m`, `BTC/USDT`)."),
]


def invalid(field: str, message: str) -> Problem:
    """A 422 naming the query parameter, as a schema refusal names it."""
    return Problem(
        Outcome.INVALID,
        f"query.{field}: {message}",
        extra={"errors": [{"field": f"query.{field}", "message": message}]},
    )


def check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise invalid("until", "must be later than since")


@router.get(
    "/v1/positions",
    response_model=PositionPage,
    **documented(Outcome.DONE, *AUTHENTICATED, Outcome.INVALID, scope=Scope.READ),
    summary="Your open positions",
)
async def list_positions(
    db: UserDb,
    account_id: AccountId | None = None,
    before: Before = None,
    before_id: BeforeId = None,
    limit: Limit = 50,
) -> PositionPage:
    """Open positions across your accounts (or one `account_id`), newest first, as the
    venue reported them right after your last trade or the last sync (`updated_at`)."""
    async with db.transaction() as cur:
        await cur.execute(
            queries["api_list_positions"],
            {"account_id": account_id, "before": before, "before_id": before_id, "limit": limit},
        )
        rows = await cur.fetchall()
    items = [PositionOut.from_row(row) for row in rows]
    nxt = None
    if len(items) == limit:
        last = items[-1]
        opened = last.opened_at or datetime.fromtimestamp(0, UTC)  # the query's 'epoch'
        query = {"limit": limit, "account_id": account_id}
        nxt = next_page("/v1/positions", query, opened, ("before_id", str(last.id)))
    return PositionPage(items=items, next=nxt)


@router.get(
    "/v1/deals",
    response_model=DealPage,
    **documented(Outcome.DONE, *AUTHENTICATED, Outcome.INVALID, scope=Scope.READ),
    summary="Your deals at the venues (history)",
)
async def list_deals(
    db: UserDb,
    account_id: AccountId | None = None,
    symbol: Symbol = None,
    since: Since = None,
    until: Until = None,
    before: Before = None,
    before_seq: Annotated[
        int | None,
        Query(ge=1, description="With `before`: among deals of that very time, the earlier ones."),
    ] = None,
    limit: Limit = 50,
) -> DealPage:
    """The venues' own record of every execution (and balance operation) on your
    accounts, newest first; filter by `account_id`, `symbol` and time (`since` inclusive,
    `until` exclusive); `next` is the older page."""
    check_range(since, until)
    params = {"account_id": account_id, "symbol": symbol, "since": since, "until": until}
    async with db.transaction() as cur:
        await cur.execute(
            queries["api_list_deals"],
            {**params, "before": before, "before_seq": before_seq, "limit": limit},
        )
        rows = await cur.fetchall()
    items = [DealOut(**{k: v for k, v in row.items() if k != "seq"}) for row in rows]
    nxt = None
    if len(items) == limit:
        query = {"limit": limit, **{k: _text(v) for k, v in params.items()}}
        nxt = next_page(
            "/v1/deals", query, items[-1].executed_at, ("before_seq", str(rows[-1]["seq"]))
        )
    return DealPage(items=items, next=nxt)


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def _check_tz(cur: Cursor, tz: str) -> None:
    if not _TZ_NAME.fullmatch(tz):
        raise invalid("tz", "must be an IANA time zone name, such as UTC or Europe/Berlin")
    await cur.execute(queries["api_time_zone_known"], {"tz": tz})
    row = await cur.fetchone()
    if row is None or not row["known"]:
        raise invalid("tz", "is not a time zone the database knows (e.g. UTC, Europe/Berlin)")


@router.get(
    "/v1/pnl",
    response_model=PnlOut,
    **documented(Outcome.DONE, *AUTHENTICATED, Outcome.INVALID, scope=Scope.READ),
    summary="Realised P&L, fees, swaps, trades and win rate",
)
async def pnl(
    db: UserDb,
    group_by: Annotated[GroupByName, Query(description="`day`, `symbol` or `account`.")] = "day",
    since: Since = None,
    until: Until = None,
    account_id: AccountId | None = None,
    symbol: Symbol = None,
    tz: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            description="The time zone whose calendar days `day` groups by (IANA name). "
            "Default UTC; `since`/`until` are instants either way.",
        ),
    ] = "UTC",
) -> PnlOut:
    """Computed in the database from the venues' own deals: realised profit, fees
    (commission), swaps and their net; the closing deals (`trades`), those with a profit
    (`wins`) and the win rate — per day, symbol or account, and per account currency
    (amounts in different currencies are never added together)."""
    check_range(since, until)
    async with db.transaction() as cur:
        await _check_tz(cur, tz)
        await cur.execute(
            queries["api_pnl"],
            {
                "group_by": group_by,
                "tz": tz,
                "since": since,
                "until": until,
                "account_id": account_id,
                "symbol": symbol,
            },
        )
        rows = await cur.fetchall()
    return PnlOut(
        group_by=GroupBy(group_by),
        tz=tz,
        since=since,
        until=until,
        items=[PnlGroup.from_row(row) for row in rows],
    )


@router.get(
    "/v1/accounts/{account_id}/equity",
    response_model=EquityOut,
    **documented(Outcome.DONE, *BY_ID, scope=Scope.READ),
    summary="The balance and equity series of one account",
    tags=["accounts"],
)
async def equity(
    account_id: AccountId,
    db: UserDb,
    since: Since = None,
    until: Until = None,
    points: Annotated[
        int,
        Query(
            ge=2,
            le=MAX_POINTS,
            description=f"At most this many points (2-{MAX_POINTS}): a longer range is cut into "
            "equal spans of time, each answered by its last snapshot with the span's lowest "
            "and highest equity.",
        ),
    ] = 500,
) -> EquityOut:
    """The account's balance snapshots (taken at every verify, sync and trade), oldest
    first, over `since`..`until`, at most `points` of them."""
    check_range(since, until)
    async with db.transaction() as cur:
        await store.account(cur, account_id)  # 404 when not yours
        await cur.execute(
            queries["api_equity"],
            {"account_id": account_id, "since": since, "until": until, "points": points},
        )
        rows = await cur.fetchall()
    return EquityOut(
        account_id=account_id,
        since=since,
        until=until,
        downsampled=bool(rows and rows[0]["downsampled"]),
        items=[EquityPoint(**{k: v for k, v in row.items() if k != "downsampled"}) for row in rows],
    )
