"""The outcome table (functions/api/statuses.py) is what the functions really answer.

Walking `STATUSES`, every row is provoked by a real request (or named in `NOT_PROVOKED`
with the reason) and answered with the row's status, problem type and headers. Every
SQLSTATE row is raised by the real database and becomes its outcome. Every status an
endpoint documents stands for outcomes of the table, and nothing else is documented.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.routing import APIRoute
from psycopg import sql

from functions.api.openapi import REPLAYED, StatusDoc
from functions.api.problems import MEDIA_TYPE, TYPE_PREFIX
from functions.api.routes import (
    accounts,
    api_tokens,
    events,
    health,
    jobs,
    journal,
    signals,
    subscriptions,
    trades,
)
from functions.api.statuses import (
    SQLSTATES,
    STATUSES,
    AnyOutcome,
    Cancellation,
    Outcome,
    refusal_of,
    status_of,
)
from functions.api.transactions import refused
from functions.app import create_app
from switchyard.domain import ErrorCode
from tests.functions.helpers import BUY, bearer, client_of, connected_account, fill_for, mt5_body

pytestmark = pytest.mark.anyio

NOWHERE = str(uuid.UUID(int=0))
ROUTERS = (health, accounts, trades, jobs, journal, api_tokens, signals, subscriptions, events)
_LOGINS = itertools.count(80_000_001)

#: Rows no cheap request provokes, and where they are proven instead.
NOT_PROVOKED: dict[AnyOutcome, str] = {
    Outcome.DATABASE_BUSY: "a serialization failure or a deadlock on demand; "
    "test_each_sqlstate_row_becomes_its_outcome raises 40001 and 40P01 in the database",
}


def test_every_outcome_has_a_row_and_every_problem_a_type():
    outcomes: list[AnyOutcome] = [*Outcome, *ErrorCode, *Cancellation]
    assert set(STATUSES) == set(outcomes)
    assert {refusal.outcome for refusal in SQLSTATES.values()} <= set(STATUSES)
    for outcome, answer in STATUSES.items():
        if answer.status < 400:
            assert answer.slug is None, outcome
        elif outcome not in (Outcome.NO_SUCH_ROUTE, Outcome.METHOD_NOT_ALLOWED):
            assert answer.slug, outcome


# --- what the endpoints document ----------------------------------------------------------


def test_every_documented_status_stands_for_outcomes_of_the_table(api_settings):
    spec = create_app(api_settings).openapi()
    routes = [route for module in ROUTERS for route in module.router.routes]
    assert all(isinstance(route, APIRoute) for route in routes)
    operations = {(m.lower(), r.path): r for r in routes for m in r.methods}
    assert set(operations) == {(m, p) for p, ops in spec["paths"].items() for m in ops}
    for (method, path), route in operations.items():
        responses = spec["paths"][path][method]["responses"]
        assert set(responses) == {str(status) for status in route.responses}, path
        assert route.status_code in route.responses
        for status, doc in route.responses.items():
            assert isinstance(doc, StatusDoc), (path, status)
            assert doc.outcomes, (path, status)
            for outcome in doc.outcomes:
                assert outcome in STATUSES
                assert status_of(outcome) == status, (path, outcome)
            carried = {name for o in doc.outcomes for name in STATUSES[o].headers}
            documented = set(responses[str(status)].get("headers", {}))
            assert documented - {REPLAYED} == carried - {"Allow"}, (path, status)
        main = route.responses[route.status_code]
        assert all(STATUSES[o].status < 300 for o in main.outcomes), path


# --- every row, provoked -------------------------------------------------------------------


@dataclass
class Walk:
    client: httpx.AsyncClient  # generous rate limits
    limited: httpx.AsyncClient  # one request per minute
    dead: httpx.AsyncClient  # a database that does not answer
    boom: httpx.AsyncClient  # an app with a route that raises
    verdicts: Any
    db: Any
    alice: Any  # one verified account
    carol: Any  # no account at all

    def auth(self) -> dict[str, str]:
        return bearer(self.alice)

    def settle(self) -> None:
        """Nothing a recipe left queued may be picked up by the next one, and alice's
        account trades again (refused credentials mark it `failed`)."""
        self.db.execute(
            "update public.jobs set status = 'cancelled', finished_at = now() "
            "where status = 'queued'"
        )
        self.db.execute(
            "update public.accounts set status = 'verified', status_reason = null "
            "where user_id = %s",
            (self.alice.id,),
        )

    def end_job(self, job: dict[str, Any], status: str, error: Any) -> None:
        self.db.execute(
            "update public.jobs set status = %s, finished_at = now(), error = %s where id = %s",
            (status, None if error is None else json.dumps(error), job["id"]),
        )

    async def trade(self, worker: Callable[[dict[str, Any]], Awaitable[None]]) -> httpx.Response:
        """A trade while the stand-in worker ends its job with `worker`."""

        async def act() -> None:
            await worker(await self.verdicts.next_queued("order"))

        response, _ = await asyncio.gather(
            self.client.post("/v1/trades", json=BUY, headers=self.auth()), act()
        )
        return response


Recipe = Callable[[Walk], Awaitable[httpx.Response]]


def failed_with(code: ErrorCode) -> Recipe:
    async def recipe(w: Walk) -> httpx.Response:
        async def fail(job: dict[str, Any]) -> None:
            await w.verdicts.fail(job, code.value, f"the venue says {code.value}")

        return await w.trade(fail)

    return recipe


def cancelled_for(reason: Cancellation) -> Recipe:
    error = None if reason is Cancellation.WITHDRAWN else {"code": reason.value, "message": "why"}

    async def recipe(w: Walk) -> httpx.Response:
        async def cancel(job: dict[str, Any]) -> None:
            w.end_job(job, "cancelled", error)

        return await w.trade(cancel)

    return recipe


async def created(w: Walk) -> httpx.Response:
    response, _ = await asyncio.gather(
        w.client.post("/v1/accounts", json=mt5_body(login=next(_LOGINS)), headers=w.auth()),
        w.verdicts.verify_next(),
    )
    return response


async def deleted(w: Walk) -> httpx.Response:
    account = await connected_account(w.client, w.verdicts, w.alice, login=next(_LOGINS))
    return await w.client.delete(f"/v1/accounts/{account['id']}", headers=w.auth())


async def succeeded(w: Walk) -> httpx.Response:
    async def fill(job: dict[str, Any]) -> None:
        await w.verdicts.succeed(job, fill_for(job))

    return await w.trade(fill)


async def unreadable(w: Walk) -> httpx.Response:
    async def garble(job: dict[str, Any]) -> None:
        w.end_job(job, "failed", {"not": "a JobError"})

    return await w.trade(garble)


def raw(method: str, path: str, content: bytes) -> Recipe:
    async def recipe(w: Walk) -> httpx.Response:
        headers = {**w.auth(), "content-type": "application/json"}
        return await w.client.request(method, path, content=content, headers=headers)

    return recipe


async def rate_limited(w: Walk) -> httpx.Response:
    await w.limited.get("/v1/accounts", headers=bearer(w.carol))
    return await w.limited.get("/v1/accounts", headers=bearer(w.carol))


async def keyed_twice(w: Walk, key: str, second: dict[str, Any]) -> httpx.Response:
    headers = {**w.auth(), "idempotency-key": key}
    await w.client.post("/v1/trades", params={"wait": 0}, json=BUY, headers=headers)
    return await w.client.post("/v1/trades", json=second, headers=headers)


async def out_of_scope(w: Walk) -> httpx.Response:
    made = await w.client.post(
        "/v1/api-tokens", json={"name": "reader", "scopes": ["read"]}, headers=w.auth()
    )
    token = {"authorization": f"Bearer {made.json()['token']}"}
    return await w.client.post("/v1/trades", json=BUY, headers=token)


async def second_factor_required(w: Walk) -> httpx.Response:
    """carol has a verified TOTP factor; her token is aal1."""
    w.db.execute(
        "insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at) "
        "values (gen_random_uuid(), %s, 'totp', 'verified', now(), now())",
        (w.carol.id,),
    )
    try:
        return await w.client.post(
            "/v1/api-tokens", json={"name": "x", "scopes": ["read"]}, headers=bearer(w.carol)
        )
    finally:
        w.db.execute("delete from auth.mfa_factors where user_id = %s", (w.carol.id,))


async def delivered(w: Walk, secret: str | None = None) -> httpx.Response:
    """An alert to a new channel of alice's: with its secret, or with `secret`."""
    made = await w.client.post("/v1/signal-channels", json={"name": "c"}, headers=w.auth())
    channel = made.json()
    body = {"secret": secret or channel["secret"], "action": "buy", "symbol": "EURUSD"}
    return await w.client.post(f"/v1/signals/{channel['id']}", json=body)


RECIPES: dict[AnyOutcome, Recipe] = {
    Outcome.ACCEPTED: delivered,
    Outcome.SIGNAL_REJECTED: lambda w: delivered(w, "not-the-secret"),
    Outcome.DONE: lambda w: w.client.get("/v1/accounts", headers=w.auth()),
    Outcome.CREATED: created,
    Outcome.DELETED: deleted,
    Outcome.STILL_RUNNING: lambda w: w.client.post(
        "/v1/trades", params={"wait": 0}, json=BUY, headers=w.auth()
    ),
    Outcome.MALFORMED_JSON: raw("POST", "/v1/trades", b'{"symbol": '),
    Outcome.DUPLICATE_KEY: raw(
        "POST", "/v1/trades", b'{"symbol": "EURUSD", "side": "buy", "volume": "1", "volume": "9"}'
    ),
    Outcome.INVALID_IDEMPOTENCY_KEY: lambda w: w.client.post(
        "/v1/trades", json=BUY, headers={**w.auth(), "idempotency-key": '""'}
    ),
    Outcome.INVALID: lambda w: w.client.get("/v1/accounts/not-an-id", headers=w.auth()),
    Outcome.BODY_TOO_LARGE: raw("POST", "/v1/trades", b"x" * 70_000),
    Outcome.UNAUTHORIZED: lambda w: w.client.get("/v1/accounts"),
    Outcome.OUT_OF_SCOPE: out_of_scope,
    Outcome.SECOND_FACTOR_REQUIRED: second_factor_required,
    Outcome.NO_SUCH_ROUTE: lambda w: w.client.get("/v1/nothing", headers=w.auth()),
    Outcome.METHOD_NOT_ALLOWED: lambda w: w.client.put("/v1/accounts", headers=w.auth()),
    Outcome.RATE_LIMITED: rate_limited,
    Outcome.NOT_FOUND: lambda w: w.client.get(f"/v1/accounts/{NOWHERE}", headers=w.auth()),
    # SW409 from private.connect_account: alice's first login is connected already
    Outcome.CONFLICT: lambda w: w.client.post("/v1/accounts", json=mt5_body(), headers=w.auth()),
    # SW422 from private.enqueue_job: carol has no account to trade on
    Outcome.UNPROCESSABLE: lambda w: w.client.post("/v1/trades", json=BUY, headers=bearer(w.carol)),
    Outcome.IDEMPOTENCY_KEY_REUSED: lambda w: keyed_twice(w, '"k-reused"', {**BUY, "volume": "1"}),
    Outcome.IDEMPOTENCY_KEY_IN_USE: lambda w: keyed_twice(w, '"k-in-use"', BUY),
    Outcome.DATABASE_UNAVAILABLE: lambda w: w.dead.get("/healthz"),
    Outcome.UNREADABLE_JOB_ERROR: unreadable,
    Outcome.FAULT: lambda w: w.boom.get("/boom"),
    **{code: failed_with(code) for code in ErrorCode},
    **{reason: cancelled_for(reason) for reason in Cancellation},
}


def check(outcome: AnyOutcome, response: httpx.Response) -> list[str]:
    """How `response` differs from the row of `outcome`; nothing when it is the row."""
    answer = STATUSES[outcome]
    wrong = []
    if response.status_code != answer.status:
        return [f"{outcome}: {response.status_code} {response.text[:200]}"]
    if answer.status >= 400:
        body = response.json()
        kind = TYPE_PREFIX + answer.slug if answer.slug else "about:blank"
        if response.headers["content-type"] != MEDIA_TYPE or body["type"] != kind:
            wrong.append(f"{outcome}: {response.headers['content-type']} {body['type']}")
        if body["status"] != answer.status:
            wrong.append(f"{outcome}: body status {body['status']}")
    for name, value in answer.headers.items():
        if name not in response.headers or value not in (None, response.headers[name]):
            wrong.append(f"{outcome}: header {name} is {response.headers.get(name)!r}")
    return wrong


async def test_walking_the_table_every_row_is_what_a_request_is_answered(
    api_settings, make_client, users, make_user, verdicts, db
):
    alice, _ = users
    carol = make_user("carol@example.com")
    client = await make_client(
        rate_limit_per_minute=10_000, credentials_rate_limit_per_minute=10_000
    )
    limited = await make_client(rate_limit_per_minute=1)
    dead = await make_client(
        functions_database_url="postgresql://switchyard_functions@127.0.0.1:1/nothing"
    )
    boom_app = create_app(api_settings)

    async def boom() -> None:
        raise RuntimeError("exploded")

    boom_app.add_api_route("/boom", boom)
    async with client_of(boom_app, raise_app_exceptions=False) as boom_client:
        await connected_account(client, verdicts, alice)
        walk = Walk(client, limited, dead, boom_client, verdicts, db, alice, carol)
        assert set(RECIPES) | set(NOT_PROVOKED) == set(STATUSES)
        wrong = []
        for outcome in STATUSES:
            if outcome in NOT_PROVOKED:
                continue
            try:
                response = await RECIPES[outcome](walk)
            except AssertionError as exc:
                raise AssertionError(f"{outcome}: {exc}") from exc
            wrong += check(outcome, response)
            walk.settle()
    assert wrong == []


# --- every SQLSTATE, raised by the database ------------------------------------------------

OUR_MESSAGE = "account 42 is switched off (is_active is false)"


def raised(db: Any, sqlstate: str, constraint: str | None = None) -> psycopg.Error:
    """What psycopg raises when the database refuses with `sqlstate`."""
    options = [
        sql.SQL("message = {}").format(OUR_MESSAGE),
        sql.SQL("errcode = {}").format(sqlstate),
    ]
    if constraint is not None:
        options.append(sql.SQL("constraint = {}").format(constraint))
    body = sql.SQL("begin raise exception using {}; end").format(sql.SQL(", ").join(options))
    with pytest.raises(psycopg.Error) as caught:
        db.execute(sql.SQL("do {}").format(sql.Literal(body.as_string(db))))
    assert caught.value.sqlstate == sqlstate
    return caught.value


@pytest.mark.parametrize("sqlstate", sorted(SQLSTATES))
def test_each_sqlstate_row_becomes_its_outcome(db, sqlstate):
    row = SQLSTATES[sqlstate]
    constraint = "accounts_one_default_per_user" if sqlstate == "23505" else None
    problem = refused(raised(db, sqlstate, constraint))
    assert problem is not None
    assert (problem.outcome, problem.status) == (row.outcome, status_of(row.outcome))
    # only our own functions' messages are shown; any other is the row's words
    assert problem.detail == (OUR_MESSAGE if row.ours else row.detail)


def test_a_unique_violation_elsewhere_and_an_unknown_sqlstate_are_not_the_callers(db):
    assert refused(raised(db, "23505", "audit_log_pkey")) is None
    assert refused(raised(db, "23505")) is None
    assert refused(raised(db, "22023")) is None
    assert refusal_of(None) is None
