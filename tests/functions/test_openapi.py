"""The OpenAPI document tells the truth: per operation, exactly the statuses it answers.

`RECIPES` holds, for every operation, one request that provokes each status it can
answer. The document must list exactly those statuses (403 on every authenticated one:
an API token without the scope it declares), and walking the document, every listed
status is really answered, errors as problem+json. A 405 lists in `Allow` every method
its path serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from functions.app import create_app
from switchyard.tokens import mint_token
from tests.functions.helpers import (
    Verdicts,
    bearer,
    client_of,
    connected_account,
    exchange_body,
    mt5_body,
)

pytestmark = pytest.mark.anyio

BUY = {"symbol": "EURUSD", "side": "buy", "volume": "0.10"}
NOWHERE = str(uuid.UUID(int=0))
_LOGINS = itertools.count(70_000_001)


@dataclass
class Ctx:
    client: httpx.AsyncClient  # generous rate limits
    limited: httpx.AsyncClient  # one request per minute, already spent by `carol`
    dead: httpx.AsyncClient  # a database that does not answer
    verdicts: Verdicts
    db: Any
    alice: Any
    carol: Any
    account: dict[str, Any]  # alice's verified account
    trade_id: str
    #: alice's API tokens, one per scope
    tokens: dict[str, str]
    #: each operation's declared scope (`x-api-token-scope`)
    scopes: dict[tuple[str, str], str]
    channel: dict[str, Any]  # alice's signal channel (with its secret)
    subscription: dict[str, Any]  # her account on it
    #: alice's token that expires within seconds (leeway included): a stream that ends
    expiring: Callable[[], str] = lambda: ""

    def auth(self) -> dict[str, str]:
        return bearer(self.alice)

    def token_without(self, method: str, path: str) -> dict[str, str]:
        """An API token of alice's that lacks the scope the operation needs."""
        needed = self.scopes[(method, path)]
        token = self.tokens["trade" if needed == "read" else "read"]
        return {"authorization": f"Bearer {token}"}

    async def fresh_account(self) -> dict[str, Any]:
        return await connected_account(self.client, self.verdicts, self.alice, login=next(_LOGINS))

    def settle(self) -> None:
        """Nothing a recipe left queued may be picked up by the next one."""
        self.db.execute(
            "update public.jobs set status = 'cancelled', finished_at = now() "
            "where status = 'queued'"
        )

    def cancel(self, job: dict[str, Any]) -> None:
        self.db.execute(
            "update public.jobs set status = 'cancelled', finished_at = now(), "
            'error = \'{"code": "account_deleted", "message": "withdrawn"}\' where id = %s',
            (job["id"],),
        )


Recipe = Callable[[Ctx], Awaitable[httpx.Response]]


async def along(request: Awaitable[httpx.Response], worker: Awaitable[Any]) -> httpx.Response:
    """The request, while the stand-in worker acts on the job it queued."""
    response, _ = await asyncio.gather(request, worker)
    return response


async def worker(ctx: Ctx, kind: str, outcome: str, result: dict[str, Any] | None = None) -> None:
    job = await ctx.verdicts.next_queued(kind)
    if outcome == "succeed":
        await ctx.verdicts.succeed(job, result)
    elif outcome == "cancel":
        ctx.cancel(job)
    else:
        await ctx.verdicts.fail(job, outcome, f"the worker says {outcome}")


def fill(job_kind: str = "order") -> dict[str, Any]:
    return {"client_order_id": "sy0", "order": "1", "price": "1.1", "status": "filled"}


# --- a valid request per operation (401, 413, 429 and 503 start from it) -----------------


def valid(ctx: Ctx, method: str, path: str) -> tuple[str, str, dict[str, Any] | None]:
    bodies = {
        ("post", "/v1/accounts"): mt5_body(login=next(_LOGINS)),
        ("patch", "/v1/accounts/{account_id}"): {"name": "renamed"},
        ("post", "/v1/trades"): BUY,
        ("post", "/v1/api-tokens"): {"name": "cron", "scopes": ["read"]},
        ("post", "/v1/signal-channels"): {"name": "Channel"},
        ("patch", "/v1/signal-channels/{channel_id}"): {"public": True},
        ("post", "/v1/subscriptions"): subscription_body(ctx, ctx.account),
        ("patch", "/v1/subscriptions/{subscription_id}"): {"auto_trade": True},
        ("post", "/v1/signals/{channel_id}"): signal_body(ctx),
    }
    url = (
        path.replace("{account_id}", ctx.account["id"])
        .replace("{trade_id}", ctx.trade_id)
        .replace("{job_id}", ctx.trade_id)
        .replace("{token_id}", NOWHERE)
        .replace("{channel_id}", ctx.channel["id"])
        .replace("{subscription_id}", ctx.subscription["id"])
    )
    return method, url, bodies.get((method, path))


def subscription_body(ctx: Ctx, account: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel_id": ctx.channel["id"],
        "account_id": account["id"],
        "sizing": {"mode": "fixed", "volume": "0.01"},
        "symbols": {"EURUSD": "EURUSD"},
    }


_ALERTS = itertools.count()


def signal_body(ctx: Ctx, **fields: Any) -> dict[str, Any]:
    """A fresh alert of alice's channel (its own id: never a replay)."""
    alert_id = f"alert-{next(_ALERTS)}"
    return {
        "secret": ctx.channel["secret"],
        "action": "buy",
        "symbol": "EURUSD",
        "id": alert_id,
        **fields,
    }


async def subscribe_201(ctx: Ctx) -> httpx.Response:
    account = await ctx.fresh_account()
    return await ctx.client.post(
        "/v1/subscriptions", json=subscription_body(ctx, account), headers=ctx.auth()
    )


async def signal_429(ctx: Ctx) -> httpx.Response:
    url = f"/v1/signals/{ctx.channel['id']}"
    await ctx.limited.post(url, json=signal_body(ctx))
    return await ctx.limited.post(url, json=signal_body(ctx))


def generic(status: int) -> Callable[[str, str], Recipe]:
    def for_operation(method: str, path: str) -> Recipe:
        async def recipe(ctx: Ctx) -> httpx.Response:
            m, url, body = valid(ctx, method, path)
            if status == 401:
                return await ctx.client.request(m, url, json=body)
            if status == 413:
                return await ctx.client.request(m, url, content=b"x" * 70_000, headers=ctx.auth())
            if status == 429:
                return await ctx.limited.request(m, url, json=body, headers=bearer(ctx.carol))
            if status == 403:
                return await ctx.client.request(
                    m, url, json=body, headers=ctx.token_without(method, path)
                )
            assert status == 503
            return await ctx.dead.request(m, url, json=body, headers=ctx.auth())

        return recipe

    return for_operation


def malformed_json(method: str, path: str) -> Recipe:
    async def recipe(ctx: Ctx) -> httpx.Response:
        m, url, _ = valid(ctx, method, path)
        return await ctx.client.request(
            m, url, content=b'{"name": ', headers={**ctx.auth(), "content-type": "application/json"}
        )

    return recipe


def get(url: Callable[[Ctx], str]) -> Recipe:
    async def recipe(ctx: Ctx) -> httpx.Response:
        return await ctx.client.get(url(ctx), headers=ctx.auth())

    return recipe


# --- the specific recipes ------------------------------------------------------------------


async def connect_201(ctx: Ctx) -> httpx.Response:
    return await along(
        ctx.client.post("/v1/accounts", json=mt5_body(login=next(_LOGINS)), headers=ctx.auth()),
        worker(ctx, "verify", "succeed"),
    )


async def connect_verdict(ctx: Ctx, outcome: str) -> httpx.Response:
    return await along(
        ctx.client.post("/v1/accounts", json=exchange_body(), headers=ctx.auth()),
        worker(ctx, "verify", outcome),
    )


async def connect_404(ctx: Ctx) -> httpx.Response:
    async def taken_then_deleted() -> None:
        job = await ctx.verdicts.next_queued("verify")
        ctx.db.execute(
            "update public.jobs set status = 'running', lease_owner = 'w', attempts = 1, "
            "lease_expires_at = now() + interval '1 minute', started_at = now() where id = %s",
            (job["id"],),
        )
        ctx.db.execute("delete from public.accounts where id = %s", (job["account_id"],))

    return await along(
        ctx.client.post(
            "/v1/accounts",
            params={"wait": 1},
            json=mt5_body(login=next(_LOGINS)),
            headers=ctx.auth(),
        ),
        taken_then_deleted(),
    )


async def account_verdict(ctx: Ctx, action: str, kind: str, outcome: str) -> httpx.Response:
    account = await ctx.fresh_account()
    url = f"/v1/accounts/{account['id']}"
    if action == "patch":
        request = ctx.client.patch(
            url, json={"credentials": {"password": "new-pass"}}, headers=ctx.auth()
        )
    else:
        request = ctx.client.post(f"{url}/{action}", headers=ctx.auth())
    return await along(request, worker(ctx, kind, outcome))


async def patch_202(ctx: Ctx) -> httpx.Response:
    account = await ctx.fresh_account()  # pending again after this
    return await ctx.client.patch(
        f"/v1/accounts/{account['id']}",
        params={"wait": 0},
        json={"credentials": {"password": "new-pass"}},
        headers=ctx.auth(),
    )


async def switch_409(ctx: Ctx) -> httpx.Response:
    pending = await ctx.client.post(
        "/v1/accounts",
        params={"wait": 0},
        json=mt5_body(login=next(_LOGINS)),
        headers=ctx.auth(),
    )
    return await ctx.client.post(
        f"/v1/accounts/{pending.json()['account']['id']}/switch", headers=ctx.auth()
    )


async def trade_verdict(ctx: Ctx, outcome: str) -> httpx.Response:
    return await along(
        ctx.client.post("/v1/trades", json=BUY, headers=ctx.auth()),
        worker(ctx, "order", outcome, fill()),
    )


async def trade_409(ctx: Ctx) -> httpx.Response:
    account = await ctx.fresh_account()
    await ctx.client.patch(
        f"/v1/accounts/{account['id']}", json={"is_active": False}, headers=ctx.auth()
    )
    return await ctx.client.post(
        "/v1/trades", json={**BUY, "account_id": account["id"]}, headers=ctx.auth()
    )


async def delete_204(ctx: Ctx) -> httpx.Response:
    account = await ctx.fresh_account()
    return await ctx.client.delete(f"/v1/accounts/{account['id']}", headers=ctx.auth())


def post(url: str, **kwargs: Any) -> Recipe:
    async def recipe(ctx: Ctx) -> httpx.Response:
        target = url.replace("{account_id}", ctx.account["id"])
        return await ctx.client.post(target, headers=ctx.auth(), **kwargs)

    return recipe


async def create_token_201(ctx: Ctx) -> httpx.Response:
    return await ctx.client.post(
        "/v1/api-tokens", json={"name": "cron", "scopes": ["read"]}, headers=ctx.auth()
    )


async def create_token_409(ctx: Ctx) -> httpx.Response:
    ctx.db.execute(
        "insert into public.api_tokens (user_id, name, scopes, token_hash, expires_at) "
        "select %s, 'filler', '{read}', sha256(n::text::bytea), now() + interval '1 day' "
        "from generate_series(1, 50) n",
        (ctx.alice.id,),
    )
    try:
        return await create_token_201(ctx)
    finally:
        ctx.db.execute("delete from public.api_tokens where name = 'filler'")


async def revoke_token_204(ctx: Ctx) -> httpx.Response:
    made = (await create_token_201(ctx)).json()
    return await ctx.client.delete(f"/v1/api-tokens/{made['id']}", headers=ctx.auth())


ACCOUNT = "/v1/accounts/{account_id}"
TOKEN = "/v1/api-tokens/{token_id}"
CHANNEL = "/v1/signal-channels/{channel_id}"
SUBSCRIPTION = "/v1/subscriptions/{subscription_id}"


async def _new_channel(ctx: Ctx) -> dict[str, Any]:
    made = await ctx.client.post("/v1/signal-channels", json={"name": "x"}, headers=ctx.auth())
    channel: dict[str, Any] = made.json()
    return channel


async def _delete_new_channel(ctx: Ctx) -> httpx.Response:
    channel = await _new_channel(ctx)
    return await ctx.client.delete(f"/v1/signal-channels/{channel['id']}", headers=ctx.auth())


async def _rotate_new_channel(ctx: Ctx) -> httpx.Response:
    channel = await _new_channel(ctx)
    return await ctx.client.post(f"/v1/signal-channels/{channel['id']}/rotate", headers=ctx.auth())


async def _delete_new_subscription(ctx: Ctx) -> httpx.Response:
    made = await subscribe_201(ctx)
    return await ctx.client.delete(f"/v1/subscriptions/{made.json()['id']}", headers=ctx.auth())


RECIPES: dict[tuple[str, str], dict[int, Recipe]] = {
    ("get", "/healthz"): {
        200: lambda ctx: ctx.client.get("/healthz"),
        413: lambda ctx: ctx.client.request("GET", "/healthz", content=b"x" * 70_000),
        503: lambda ctx: ctx.dead.get("/healthz"),
    },
    ("post", "/v1/accounts"): {
        201: connect_201,
        202: post("/v1/accounts", params={"wait": 0}, json=mt5_body(login=69_999_999)),
        400: malformed_json("post", "/v1/accounts"),
        404: connect_404,
        409: post("/v1/accounts", json=mt5_body()),  # alice's login, connected already
        422: post("/v1/accounts", json=mt5_body(login=True)),
        500: lambda ctx: connect_verdict(ctx, "internal"),
        # and 503 from the venue, as this worker answers every exchange connect
        503: lambda ctx: connect_verdict(ctx, "venue_unavailable"),
    },
    ("get", "/v1/accounts"): {200: get(lambda ctx: "/v1/accounts")},
    ("get", ACCOUNT): {
        200: get(lambda ctx: f"/v1/accounts/{ctx.account['id']}"),
        404: get(lambda ctx: f"/v1/accounts/{NOWHERE}"),
        422: get(lambda ctx: "/v1/accounts/not-an-id"),
    },
    ("patch", ACCOUNT): {
        200: lambda ctx: ctx.client.patch(
            f"/v1/accounts/{ctx.account['id']}", json={"name": "Main"}, headers=ctx.auth()
        ),
        202: patch_202,
        400: malformed_json("patch", ACCOUNT),
        404: lambda ctx: ctx.client.patch(
            f"/v1/accounts/{NOWHERE}", json={"name": "x"}, headers=ctx.auth()
        ),
        409: lambda ctx: account_verdict(ctx, "patch", "verify", "cancel"),
        422: lambda ctx: ctx.client.patch(
            f"/v1/accounts/{ctx.account['id']}", json={"is_active": "yes"}, headers=ctx.auth()
        ),
        500: lambda ctx: account_verdict(ctx, "patch", "verify", "internal"),
    },
    ("delete", ACCOUNT): {
        204: delete_204,
        404: lambda ctx: ctx.client.delete(f"/v1/accounts/{NOWHERE}", headers=ctx.auth()),
        422: lambda ctx: ctx.client.delete("/v1/accounts/not-an-id", headers=ctx.auth()),
    },
    ("post", f"{ACCOUNT}/switch"): {
        200: lambda ctx: account_verdict(ctx, "switch", "switch", "succeed"),
        202: post(f"{ACCOUNT}/switch", params={"wait": 0}),
        404: post(f"/v1/accounts/{NOWHERE}/switch"),
        409: switch_409,
        422: post(f"{ACCOUNT}/switch", params={"wait": -1}),
        500: lambda ctx: account_verdict(ctx, "switch", "switch", "internal"),
    },
    ("post", f"{ACCOUNT}/verify"): {
        200: lambda ctx: account_verdict(ctx, "verify", "verify", "succeed"),
        202: post(f"{ACCOUNT}/verify", params={"wait": 0}),
        404: post(f"/v1/accounts/{NOWHERE}/verify"),
        409: lambda ctx: account_verdict(ctx, "verify", "verify", "cancel"),
        422: post(f"{ACCOUNT}/verify", params={"wait": -1}),
        500: lambda ctx: account_verdict(ctx, "verify", "verify", "internal"),
    },
    ("post", "/v1/trades"): {
        201: lambda ctx: trade_verdict(ctx, "succeed"),
        202: post("/v1/trades", params={"wait": 0}, json=BUY),
        400: lambda ctx: ctx.client.post(
            "/v1/trades", json=BUY, headers={**ctx.auth(), "idempotency-key": '""'}
        ),
        404: post("/v1/trades", json={**BUY, "account_id": NOWHERE}),
        409: trade_409,
        422: post("/v1/trades", json={**BUY, "volume": "-1"}),
        500: lambda ctx: trade_verdict(ctx, "internal"),
    },
    ("get", "/v1/trades"): {
        200: get(lambda ctx: "/v1/trades"),
        422: get(lambda ctx: "/v1/trades?limit=0"),
    },
    ("get", "/v1/trades/{trade_id}"): {
        200: get(lambda ctx: f"/v1/trades/{ctx.trade_id}"),
        404: get(lambda ctx: f"/v1/trades/{NOWHERE}"),
        422: get(lambda ctx: "/v1/trades/not-an-id"),
    },
    ("get", "/v1/positions"): {
        200: get(lambda ctx: "/v1/positions"),
        422: get(lambda ctx: "/v1/positions?limit=0"),
    },
    ("get", "/v1/deals"): {
        200: get(lambda ctx: "/v1/deals"),
        422: get(lambda ctx: "/v1/deals?since=yesterday"),
    },
    ("get", "/v1/pnl"): {
        200: get(lambda ctx: "/v1/pnl?group_by=symbol"),
        422: get(lambda ctx: "/v1/pnl?group_by=week"),
    },
    ("get", f"{ACCOUNT}/equity"): {
        200: get(lambda ctx: f"/v1/accounts/{ctx.account['id']}/equity"),
        404: get(lambda ctx: f"/v1/accounts/{NOWHERE}/equity"),
        422: get(lambda ctx: f"/v1/accounts/{ctx.account['id']}/equity?points=1"),
    },
    ("get", "/v1/jobs/{job_id}"): {
        200: get(lambda ctx: f"/v1/jobs/{ctx.trade_id}"),
        404: get(lambda ctx: f"/v1/jobs/{NOWHERE}"),
        422: get(lambda ctx: "/v1/jobs/not-an-id"),
    },
    ("post", "/v1/api-tokens"): {
        201: create_token_201,
        400: malformed_json("post", "/v1/api-tokens"),
        409: create_token_409,
        422: post("/v1/api-tokens", json={"name": "x", "scopes": ["admin"]}),
    },
    ("get", "/v1/api-tokens"): {200: get(lambda ctx: "/v1/api-tokens")},
    ("delete", TOKEN): {
        204: revoke_token_204,
        404: lambda ctx: ctx.client.delete(f"/v1/api-tokens/{NOWHERE}", headers=ctx.auth()),
        422: lambda ctx: ctx.client.delete("/v1/api-tokens/not-an-id", headers=ctx.auth()),
    },
    ("get", "/v1/events"): {
        # the whole stream: ready, then its end as the token expires
        200: lambda ctx: ctx.client.get(
            "/v1/events", headers={"authorization": f"Bearer {ctx.expiring()}"}
        ),
        422: lambda ctx: ctx.client.get(
            "/v1/events", headers={**ctx.auth(), "last-event-id": "not-an-id"}
        ),
    },
    ("post", "/v1/signal-channels"): {
        201: post("/v1/signal-channels", json={"name": "Another"}),
        400: malformed_json("post", "/v1/signal-channels"),
        422: post("/v1/signal-channels", json={"name": ""}),
    },
    ("get", "/v1/signal-channels"): {200: get(lambda ctx: "/v1/signal-channels")},
    ("get", CHANNEL): {
        200: get(lambda ctx: f"/v1/signal-channels/{ctx.channel['id']}"),
        404: get(lambda ctx: f"/v1/signal-channels/{NOWHERE}"),
        422: get(lambda ctx: "/v1/signal-channels/not-an-id"),
    },
    ("delete", CHANNEL): {
        204: lambda ctx: _delete_new_channel(ctx),
        404: lambda ctx: ctx.client.delete(f"/v1/signal-channels/{NOWHERE}", headers=ctx.auth()),
        422: lambda ctx: ctx.client.delete("/v1/signal-channels/not-an-id", headers=ctx.auth()),
    },
    ("patch", CHANNEL): {
        200: lambda ctx: ctx.client.patch(
            f"/v1/signal-channels/{ctx.channel['id']}", json={"name": "Renamed"}, headers=ctx.auth()
        ),
        400: malformed_json("patch", CHANNEL),
        404: lambda ctx: ctx.client.patch(
            f"/v1/signal-channels/{NOWHERE}", json={"name": "Renamed"}, headers=ctx.auth()
        ),
        422: lambda ctx: ctx.client.patch(
            f"/v1/signal-channels/{ctx.channel['id']}", json={}, headers=ctx.auth()
        ),
    },
    ("post", f"{CHANNEL}/rotate"): {
        200: lambda ctx: _rotate_new_channel(ctx),
        404: post(f"/v1/signal-channels/{NOWHERE}/rotate"),
        422: post("/v1/signal-channels/not-an-id/rotate"),
    },
    ("post", "/v1/signals/{channel_id}"): {
        202: lambda ctx: ctx.client.post(f"/v1/signals/{ctx.channel['id']}", json=signal_body(ctx)),
        400: malformed_json("post", "/v1/signals/{channel_id}"),
        401: lambda ctx: ctx.client.post(
            f"/v1/signals/{ctx.channel['id']}", json={**signal_body(ctx), "secret": "wrong"}
        ),
        422: lambda ctx: ctx.client.post(
            f"/v1/signals/{ctx.channel['id']}", json=signal_body(ctx, action="hold")
        ),
        429: signal_429,
    },
    ("post", "/v1/subscriptions"): {
        201: subscribe_201,
        400: malformed_json("post", "/v1/subscriptions"),
        404: lambda ctx: ctx.client.post(
            "/v1/subscriptions",
            json={**subscription_body(ctx, ctx.account), "channel_id": NOWHERE},
            headers=ctx.auth(),
        ),
        409: lambda ctx: ctx.client.post(
            "/v1/subscriptions", json=subscription_body(ctx, ctx.account), headers=ctx.auth()
        ),
        422: lambda ctx: ctx.client.post(
            "/v1/subscriptions",
            json={**subscription_body(ctx, ctx.account), "sizing": {"mode": "fixed"}},
            headers=ctx.auth(),
        ),
    },
    ("get", "/v1/subscriptions"): {200: get(lambda ctx: "/v1/subscriptions")},
    ("get", SUBSCRIPTION): {
        200: get(lambda ctx: f"/v1/subscriptions/{ctx.subscription['id']}"),
        404: get(lambda ctx: f"/v1/subscriptions/{NOWHERE}"),
        422: get(lambda ctx: "/v1/subscriptions/not-an-id"),
    },
    ("patch", SUBSCRIPTION): {
        200: lambda ctx: ctx.client.patch(
            f"/v1/subscriptions/{ctx.subscription['id']}",
            json={"leverage": 5},
            headers=ctx.auth(),
        ),
        400: malformed_json("patch", SUBSCRIPTION),
        404: lambda ctx: ctx.client.patch(
            f"/v1/subscriptions/{NOWHERE}", json={"leverage": 5}, headers=ctx.auth()
        ),
        422: lambda ctx: ctx.client.patch(
            f"/v1/subscriptions/{ctx.subscription['id']}",
            json={"leverage": 0},
            headers=ctx.auth(),
        ),
    },
    ("delete", SUBSCRIPTION): {
        204: lambda ctx: _delete_new_subscription(ctx),
        404: lambda ctx: ctx.client.delete(f"/v1/subscriptions/{NOWHERE}", headers=ctx.auth()),
        422: lambda ctx: ctx.client.delete("/v1/subscriptions/not-an-id", headers=ctx.auth()),
    },
}
# Every authenticated operation: no token, a huge body, the rate limit, no database (the
# webhook, which has no token, gives its own 401 and 429 above: a wrong secret, the channel's
# limit).
# 403 (a token without the scope) is every operation's but the public ones'.
PUBLIC = {("get", "/healthz"), ("post", "/v1/signals/{channel_id}")}
for (_method, _path), _recipes in RECIPES.items():
    if _path != "/healthz":
        for _status in (401, 403, 413, 429, 503):
            if _status == 403 and (_method, _path) in PUBLIC:
                continue
            _recipes.setdefault(_status, generic(_status)(_method, _path))


def documented(spec: dict[str, Any]) -> dict[tuple[str, str], set[int]]:
    return {
        (method, path): {int(status) for status in operation["responses"]}
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


@contextlib.asynccontextmanager
async def app_client(
    settings: Any, conninfo: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(create_app(settings, conninfo=conninfo)) as client:
        yield client


async def test_the_document_lists_exactly_the_statuses_each_operation_answers(client):
    spec = (await client.get("/openapi.json")).json()
    assert documented(spec) == {op: set(recipes) for op, recipes in RECIPES.items()}
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_every_error_is_documented_as_problem_json_only(client):
    spec = (await client.get("/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"] == {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/ProblemOut"}
                        }
                    }, (method, path, status)


async def test_the_idempotency_key_header_is_documented_with_its_rules(client):
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/trades"]["post"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header"
    rules = header["description"]
    for rule in (
        "1 to 255 printable ASCII",
        "**400**",
        "**422**",
        "**409**",
        "Idempotent-Replayed",
    ):
        assert rule in rules
    assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
    assert "Location" in operation["responses"]["202"]["headers"]


async def test_walking_the_document_every_status_is_really_answered(
    api_settings, users, verdicts, db, make_user
):
    """~110 requests: one per documented status of every operation."""
    alice, _ = users
    carol = make_user("carol@example.com")
    generous = api_settings.model_copy(
        update={"rate_limit_per_minute": 10_000, "credentials_rate_limit_per_minute": 10_000}
    )
    limited_settings = api_settings.model_copy(
        update={"rate_limit_per_minute": 1, "signal_rate_limit_per_minute": 1}
    )
    async with (
        app_client(generous) as client,
        app_client(limited_settings) as limited,
        app_client(api_settings, "postgresql://authenticator@127.0.0.1:1/nowhere") as dead,
    ):
        account = await connected_account(client, verdicts, alice)
        trade = await client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=bearer(alice))
        assert (await limited.get("/v1/accounts", headers=bearer(carol))).status_code == 200
        tokens = {}
        for scope in ("read", "trade", "accounts"):
            made = await client.post(
                "/v1/api-tokens", json={"name": scope, "scopes": [scope]}, headers=bearer(alice)
            )
            tokens[scope] = made.json()["token"]
        spec = (await client.get("/openapi.json")).json()
        scopes = {
            (method, path): operation["x-api-token-scope"]
            for path, operations in spec["paths"].items()
            for method, operation in operations.items()
        }
        channel = (
            await client.post("/v1/signal-channels", json={"name": "c"}, headers=bearer(alice))
        ).json()
        subscription = (
            await client.post(
                "/v1/subscriptions",
                json={
                    "channel_id": channel["id"],
                    "account_id": account["id"],
                    "sizing": {"mode": "fixed", "volume": "0.01"},
                },
                headers=bearer(alice),
            )
        ).json()
        ctx = Ctx(
            client,
            limited,
            dead,
            verdicts,
            db,
            alice,
            carol,
            account,
            trade.json()["job"]["id"],
            tokens,
            scopes,
            channel,
            subscription,
        )
        leeway = api_settings.jwt_leeway_s
        ctx.expiring = lambda: mint_token(api_settings, alice.id, alice.email, ttl_s=3 - leeway)
        ctx.settle()
        wrong = []
        unavailable = []
        for (method, path), statuses in documented(spec).items():
            for status in sorted(statuses):
                recipe = RECIPES[(method, path)][status]
                if status == 503:  # the dead database makes each wait for the pool: together
                    unavailable.append((method, path, recipe(ctx)))
                    continue
                response = await recipe(ctx)
                ctx.settle()
                if response.status_code != status or (
                    status >= 400 and response.headers["content-type"] != "application/problem+json"
                ):
                    wrong.append(
                        f"{method.upper()} {path} {status}: {response.status_code} {response.text[:200]}"
                    )
        answers = await asyncio.gather(*(call for *_, call in unavailable))
        for (method, path, _), response in zip(unavailable, answers, strict=True):
            if response.status_code != 503:
                wrong.append(f"{method.upper()} {path} 503: {response.status_code}")
    assert wrong == []


async def test_a_405_allows_every_method_the_path_serves(client, users):
    alice, _ = users
    spec = (await client.get("/openapi.json")).json()
    paths = {
        path.replace("{account_id}", NOWHERE)
        .replace("{trade_id}", NOWHERE)
        .replace("{job_id}", NOWHERE)
        .replace("{token_id}", NOWHERE)
        .replace("{channel_id}", NOWHERE)
        .replace("{subscription_id}", NOWHERE): {m.upper() for m in operations}
        for path, operations in spec["paths"].items()
    }
    paths |= {"/openapi.json": {"GET", "HEAD"}, "/docs": {"GET", "HEAD"}}
    assert paths["/v1/accounts"] == {"GET", "POST"}
    for path, served in paths.items():
        for method in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - served:
            response = await client.request(method, path, headers=bearer(alice))
            assert response.status_code == 405, (method, path, response.status_code)
            assert set(response.headers["allow"].split(", ")) == served, (method, path)
            if method != "HEAD":
                assert response.headers["content-type"] == "application/problem+json"
                assert all(m in response.json()["detail"] for m in served)
