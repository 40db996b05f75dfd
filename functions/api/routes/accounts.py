"""/v1/accounts: connect, list, read, change, switch, re-verify and delete accounts.

Credentials are sealed (functions/api/credentials.py, bound to the new account id)
before they reach the database; every write goes through a `private.*` function that
checks the caller.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from functions.api import store
from functions.api.credentials import connect_params, replacement_params
from functions.api.deps import CredentialsDb, RuntimeDep, UserDb, WaitQuery
from functions.api.openapi import documented
from functions.api.problems import NotFound
from functions.api.ratelimit import Bucket
from functions.api.runtime import Runtime
from functions.api.schemas.accounts import AccountOut, AccountPending, ConnectRequest, UpdateAccount
from functions.api.schemas.jobs import JobOut
from functions.api.scopes import Scope
from functions.api.statuses import (
    AUTHENTICATED,
    AWAITS_JOB,
    BY_ID,
    JSON_BODY,
    LOCATION,
    Outcome,
    status_of,
)
from functions.api.strictjson import StrictJsonRoute
from functions.api.transactions import UserSession
from functions.api.verdicts import answer, await_job, job_problem, still_running
from switchyard.domain import USER_ERROR_CODES, AccountId, JobId, JobKind, JobStatus, Venue

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], route_class=StrictJsonRoute)

#: Every endpoint that waits for the worker to act on the account: 202 has its body.
_PENDING = {202: AccountPending}
#: The 403 of what hands over or removes broker access.
_FORBIDDEN = (
    "Your account has a verified second factor and this session has not presented it "
    "(sign in with it: an aal2 token), or an API token without the `accounts` scope."
)


async def _verdict(
    db: UserSession,
    runtime: Runtime,
    account_id: AccountId,
    job_id: JobId,
    wait: float | None,
    *,
    success: Outcome,
    headers: dict[str, str] | None = None,
    forget_on_failure: bool = False,
) -> JSONResponse:
    """The answer once the worker has (or has not) acted on the account's job.

    `forget_on_failure` (connect): only a success or a job still running keeps the account.
    """
    job = await await_job(db, runtime, job_id, runtime.wait_s(wait))
    if job["status"] in (JobStatus.QUEUED, JobStatus.RUNNING):
        async with db.transaction() as cur:
            account = await store.account(cur, account_id)
        pending = AccountPending(
            detail="the worker has not answered yet; poll the job",
            account=AccountOut.from_row(account),
            job=JobOut.from_row(job),
        )
        return still_running(pending, job_id)
    if job["status"] != JobStatus.SUCCEEDED:
        problem = job_problem(job)
        if forget_on_failure:
            # Failed or cancelled, for whatever reason (refused credentials, an unserved
            # venue, a fault): an account that cannot be served keeps nothing, its secret
            # least of all, so that connecting again is a fresh start and never a conflict.
            async with db.transaction() as cur:
                await store.one(cur, "api_delete_account", {"account_id": account_id})
            problem.detail += (
                "; nothing was kept: correct the credentials and connect again"
                if problem.outcome in USER_ERROR_CODES
                else "; nothing was kept: connect again later"
            )
        raise problem
    async with db.transaction() as cur:
        account = await store.account(cur, account_id)
    return answer(success, AccountOut.from_row(account), headers)


@router.post(
    "",
    response_model=AccountOut,
    **documented(
        Outcome.CREATED,
        *JSON_BODY,
        *AUTHENTICATED,
        *AWAITS_JOB,
        Outcome.NOT_FOUND,
        Outcome.CONFLICT,
        Outcome.UNPROCESSABLE,
        Outcome.SECOND_FACTOR_REQUIRED,
        scope=Scope.ACCOUNTS,
        models=_PENDING,
        headers={201: {LOCATION: "The new account."}},
        say={
            404: "The new account was deleted before the worker answered.",
            409: "This venue and login are already connected (`detail` names the account), "
            "or the verification was cancelled (nothing kept).",
            422: "The request is invalid (`errors`), or the venue refused the credentials "
            "(`code`; nothing kept).",
            403: _FORBIDDEN,
            500: "The worker hit a fault on our side; nothing was kept.",
            503: "The venue cannot be served now (nothing kept), or the database is "
            "unavailable; see Retry-After.",
        },
    ),
    summary="Connect an MT5 login or an exchange API key",
)
async def connect(
    body: ConnectRequest, db: CredentialsDb, runtime: RuntimeDep, wait: WaitQuery = None
) -> JSONResponse:
    """Encrypt the credentials, store the account as pending and wait for the worker to verify it.

    201: verified (with its balance). 202: still verifying, poll `Location`. 422: the venue
    refused the credentials; 503: the venue cannot be served now. Whenever the answer is
    neither 201 nor 202, nothing is kept (the reason says why). 409: already connected.
    """
    account_id = AccountId(uuid.uuid4())
    params = connect_params(body, account_id, runtime.vault)
    async with db.transaction() as cur:
        job_id = await store.job_id_of(cur, "api_connect_account", params)
    return await _verdict(
        db,
        runtime,
        account_id,
        job_id,
        wait,
        success=Outcome.CREATED,
        headers={LOCATION: f"/v1/accounts/{account_id}"},
        forget_on_failure=True,
    )


@router.get(
    "",
    response_model=list[AccountOut],
    **documented(Outcome.DONE, *AUTHENTICATED, scope=Scope.READ),
    summary="Your accounts",
)
async def list_accounts(db: UserDb) -> list[AccountOut]:
    """Every account you connected, with status, default flag and last balance. Never a secret."""
    async with db.transaction() as cur:
        rows = await store.accounts(cur)
    return [AccountOut.from_row(row) for row in rows]


@router.get(
    "/{account_id}",
    response_model=AccountOut,
    **documented(Outcome.DONE, *BY_ID, scope=Scope.READ),
    summary="One account",
)
async def get_account(account_id: AccountId, db: UserDb) -> AccountOut:
    """One of your accounts (404 for any other id)."""
    async with db.transaction() as cur:
        return AccountOut.from_row(await store.account(cur, account_id))


@router.patch(
    "/{account_id}",
    response_model=AccountOut,
    **documented(
        Outcome.DONE,
        *JSON_BODY,
        *BY_ID,
        *AWAITS_JOB,
        Outcome.CONFLICT,
        Outcome.UNPROCESSABLE,
        Outcome.SECOND_FACTOR_REQUIRED,
        scope=Scope.ACCOUNTS,
        models=_PENDING,
        say={
            403: _FORBIDDEN,
            409: "The new API key belongs to another of your accounts, or the verification "
            "of the new credentials was cancelled.",
            422: "The request is invalid (`errors`; credentials of the other kind of "
            "account), or the venue refused the new credentials (`code`).",
        },
    ),
    summary="Rename, re-limit, switch off/on, or give new credentials",
)
async def update_account(
    account_id: AccountId,
    body: UpdateAccount,
    db: UserDb,
    runtime: RuntimeDep,
    wait: WaitQuery = None,
) -> JSONResponse:
    """Change what is given. New credentials are re-encrypted and re-verified (like connect)."""
    if body.credentials is not None:
        db.also_charge(Bucket.CREDENTIALS)
    job_id = None
    async with db.transaction() as cur:
        changes = {
            "account_id": account_id,
            "name": body.name,
            "is_active": body.is_active,
            "risk_limits": None
            if body.risk_limits is None
            else store.jsonb(body.risk_limits.model_dump(mode="json", exclude_none=True)),
        }
        if await store.one(cur, "api_update_account", changes) is None:
            raise NotFound(f"account {account_id} not found")
        if body.credentials is not None:
            kind = await store.one(cur, "api_account_kind", {"account_id": account_id})
            assert kind is not None  # the update above found it
            params = replacement_params(
                body.credentials, kind["kind"], Venue(kind["venue"]), account_id, runtime.vault
            )
            job_id = await store.job_id_of(cur, "api_replace_credentials", params)
        row = await store.account(cur, account_id)
    if job_id is None:
        return answer(Outcome.DONE, AccountOut.from_row(row))
    return await _verdict(db, runtime, account_id, job_id, wait, success=Outcome.DONE)


@router.post(
    "/{account_id}/switch",
    response_model=AccountOut,
    **documented(
        Outcome.DONE,
        *BY_ID,
        *AWAITS_JOB,
        Outcome.CONFLICT,
        scope=Scope.ACCOUNTS,
        models=_PENDING,
        say={
            409: "The account is not verified or is switched off, or the switch was cancelled.",
            422: "`wait` or the id is invalid, or the venue refused the login (`code`).",
        },
    ),
    summary="Make it your active account",
)
async def switch_account(
    account_id: AccountId, db: UserDb, runtime: RuntimeDep, wait: WaitQuery = None
) -> JSONResponse:
    """Trades without an account_id go here from now on; the worker logs the terminal in
    ahead of the next trade and answers with the live balance (202 if it has not yet)."""
    async with db.transaction() as cur:
        job_id = await store.job_id_of(cur, "api_switch_account", {"account_id": account_id})
    return await _verdict(db, runtime, account_id, job_id, wait, success=Outcome.DONE)


@router.post(
    "/{account_id}/verify",
    response_model=AccountOut,
    **documented(
        Outcome.DONE,
        *BY_ID,
        *AWAITS_JOB,
        scope=Scope.ACCOUNTS,
        models=_PENDING,
        say={
            409: "The verification was cancelled (the account was deleted meanwhile).",
            422: "`wait` or the id is invalid, or the venue refused the credentials (`code`).",
        },
    ),
    summary="Verify the stored credentials again, now",
)
async def verify_account(
    account_id: AccountId, db: CredentialsDb, runtime: RuntimeDep, wait: WaitQuery = None
) -> JSONResponse:
    """Ask the venue again; 200 with the fresh balance, 422 with its reason, 202 to poll."""
    async with db.transaction() as cur:
        job_id = await store.job_id_of(
            cur,
            "api_enqueue_job",
            {
                "account_id": account_id,
                "kind": JobKind.VERIFY.value,
                "payload": "{}",
                "idempotency_key": None,
                "request_hash": None,
                "ttl_s": None,
            },
        )
    return await _verdict(db, runtime, account_id, job_id, wait, success=Outcome.DONE)


@router.delete(
    "/{account_id}",
    response_class=Response,
    **documented(
        Outcome.DELETED,
        *BY_ID,
        Outcome.SECOND_FACTOR_REQUIRED,
        scope=Scope.ACCOUNTS,
        say={403: _FORBIDDEN},
    ),
    summary="Delete an account and its credentials",
)
async def delete_account(account_id: AccountId, db: UserDb) -> Response:
    """Credentials are destroyed and queued jobs cancelled; the trade journal and the audit
    log keep their rows (without the account link)."""
    async with db.transaction() as cur:
        if await store.one(cur, "api_delete_account", {"account_id": account_id}) is None:
            raise NotFound(f"account {account_id} not found")
    return Response(status_code=status_of(Outcome.DELETED))
