"""/v1/subscriptions: one of your accounts on a signal channel, with your own settings.

    curl -X POST $API/v1/subscriptions -H "Authorization: Bearer $TOKEN" \\
         -d '{"channel_id": "…", "account_id": "…", "sizing": {"mode": "fixed", "volume": 0.01},
              "symbols": {"EURUSD": "EURUSD"}, "auto_trade": true}'

Only you see your subscriptions and what each alert did on them (queued, or skipped with
the reason); the channel's owner sees counts, never who subscribes.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from functions.api import store
from functions.api.deps import UserDb
from functions.api.openapi import documented
from functions.api.problems import NotFound
from functions.api.schemas.signals import (
    DeliveryOut,
    NewSubscription,
    SubscriptionOut,
    SubscriptionSettings,
)
from functions.api.scopes import Scope
from functions.api.statuses import AUTHENTICATED, BY_ID, JSON_BODY, Outcome, status_of
from functions.api.strictjson import StrictJsonRoute
from functions.api.transactions import Cursor
from functions.api.verdicts import answer
from switchyard.queries import queries

router = APIRouter(prefix="/v1/subscriptions", tags=["signals"], route_class=StrictJsonRoute)

#: The settings as the database stores them, JSON columns as text.
_JSON_COLUMNS = frozenset({"symbols", "sizing"})
_SETTINGS = tuple(SubscriptionSettings.model_fields)


def _column(name: str, value: Any) -> Any:
    return store.jsonb(value) if name in _JSON_COLUMNS and value is not None else value


async def _read(cur: Cursor, subscription_id: UUID) -> SubscriptionOut:
    row = await store.one(cur, "api_subscriptions", {"subscription_id": subscription_id})
    if row is None:
        raise NotFound(f"subscription {subscription_id} not found")
    return _subscription(row)


def _subscription(row: dict[str, Any]) -> SubscriptionOut:
    recent = [DeliveryOut.model_validate(d) for d in row.pop("recent")]
    return SubscriptionOut(**row, recent=recent)


@router.post(
    "",
    response_model=SubscriptionOut,
    **documented(
        Outcome.CREATED,
        *AUTHENTICATED,
        *JSON_BODY,
        Outcome.NOT_FOUND,
        Outcome.CONFLICT,
        say={
            404: "The account is not yours, or the channel is neither yours nor public.",
            409: "This account subscribes to this channel already.",
        },
        scope=Scope.ACCOUNTS,
    ),
    summary="Subscribe one of your accounts to a channel",
)
async def subscribe(body: NewSubscription, db: UserDb) -> JSONResponse:
    """Each alert of the channel then becomes a trade on this account, sized by `sizing`
    when the worker runs it (from the balance then and the symbol's volume rules)."""
    values = body.model_dump(mode="json")
    params = {name: _column(name, values[name]) for name in _SETTINGS}
    params |= {"channel_id": body.channel_id, "account_id": body.account_id}
    async with db.transaction() as cur:
        created = await store.one(cur, "api_subscribe", params)
        assert created is not None
        out = await _read(cur, created["id"])
    return answer(Outcome.CREATED, out, {"Location": f"/v1/subscriptions/{out.id}"})


@router.get(
    "",
    response_model=list[SubscriptionOut],
    **documented(Outcome.DONE, *AUTHENTICATED, scope=Scope.READ),
    summary="Your subscriptions",
)
async def list_subscriptions(db: UserDb) -> list[SubscriptionOut]:
    """Oldest first, each with the channel's name and what the latest alerts did."""
    async with db.transaction() as cur:
        await cur.execute(queries["api_subscriptions"], {"subscription_id": None})
        return [_subscription(row) for row in await cur.fetchall()]


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    **documented(Outcome.DONE, *BY_ID, scope=Scope.READ),
    summary="One subscription",
)
async def get_subscription(subscription_id: UUID, db: UserDb) -> SubscriptionOut:
    """With the latest deliveries: `queued` (and its `job_id`) or `skipped` and why."""
    async with db.transaction() as cur:
        return await _read(cur, subscription_id)


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    **documented(Outcome.DONE, *BY_ID, *JSON_BODY, scope=Scope.ACCOUNTS),
    summary="Change a subscription's settings",
)
async def update_subscription(
    subscription_id: UUID, body: SubscriptionSettings, db: UserDb
) -> SubscriptionOut:
    """Only the fields given change; `null` clears an optional one (not `sizing`,
    `symbols` or `auto_trade`). Alerts already queued keep the settings they had."""
    given = body.model_fields_set
    values = body.model_dump(mode="json")
    cleared = [name for name in ("sizing", "symbols", "auto_trade") if name in given]
    if nulls := [name for name in cleared if values[name] is None]:
        raise RequestValidationError(
            [
                {"loc": ("body", name), "msg": "cannot be cleared: give a value", "type": "null"}
                for name in nulls
            ]
        )
    params: dict[str, Any] = {"subscription_id": subscription_id}
    for name in _SETTINGS:
        params[name] = _column(name, values[name])
        params[f"set_{name}"] = name in given
    async with db.transaction() as cur:
        if await store.one(cur, "api_update_subscription", params) is None:
            raise NotFound(f"subscription {subscription_id} not found")
        return await _read(cur, subscription_id)


@router.delete(
    "/{subscription_id}",
    response_class=Response,
    **documented(Outcome.DELETED, *BY_ID, scope=Scope.ACCOUNTS),
    summary="Unsubscribe",
)
async def delete_subscription(subscription_id: UUID, db: UserDb) -> Response:
    """No new alerts reach the account; trades already queued still run."""
    async with db.transaction() as cur:
        found = await store.one(
            cur, "api_delete_subscription", {"subscription_id": subscription_id}
        )
        if found is None:
            raise NotFound(f"subscription {subscription_id} not found")
    return Response(status_code=status_of(Outcome.DELETED))
