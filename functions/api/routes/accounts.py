"""/v1/accounts: connect, list, read, change, switch, re-verify and delete accounts.

Credentials are sealed here (bound to the new account id) before they reach the
database; every write goes through a `private.*` function that checks the caller.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from functions.api import store
from functions.api.deps import CredentialsDb, RuntimeDep, UserDb, WaitQuery
from functions.api.outcomes import job_problem
from functions.api.problems import NotFound, Problem
from functions.api.ratelimit import Bucket
from functions.api.responses import ERRORS, WITH_VERDICT
from functions.api.runtime import Runtime
from functions.api.schemas.accounts import (
    AccountOut,
    AccountPending,
    ConnectExchange,
    ConnectMt5,
    ConnectRequest,
    ExchangeCredentials,
    Mt5Credentials,
    UpdateAccount,
)
from functions.api.schemas.jobs import JobOut
from functions.api.session import Cursor, UserSession
from functions.api.verdicts import answer, await_job, still_running
from functions.core.domain import JobKind, JobStatus
from functions.core.vault import Vault, fingerprint_api_key, mask_api_key

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


def _secret_of(
    creds: ConnectMt5 | ConnectExchange | Mt5Credentials | ExchangeCredentials,
) -> dict[str, str]:
    if isinstance(creds, ConnectMt5 | Mt5Credentials):
        return {"password": creds.password.get_secret_value()}
    values = {
        "api_key": creds.api_key.get_secret_value(),
        "api_secret": creds.api_secret.get_secret_value(),
    }
    if creds.passphrase is not None:
        values["passphrase"] = creds.passphrase.get_secret_value()
    return values


def _connect_params(
    body: ConnectMt5 | ConnectExchange, account_id: UUID, vault: Vault
) -> dict[str, Any]:
    sealed = vault.seal(account_id, _secret_of(body))
    common = {
        "account_id": account_id,
        "name": body.name,
        "environment": body.environment,
        "risk_limits": store.jsonb(body.risk_limits.model_dump(mode="json", exclude_none=True)),
        "make_default": body.make_default,
        "ciphertext": sealed.ciphertext,
        "key_id": sealed.key_id,
    }
    if isinstance(body, ConnectMt5):
        return common | {
            "kind": "mt5",
            "venue": "mt5",
            "login": str(body.login),
            "server": body.server,
            "broker": body.broker,
            "api_key_masked": None,
        }
    api_key = body.api_key.get_secret_value()
    return common | {
        "kind": "exchange",
        "venue": body.exchange,
        "login": fingerprint_api_key(api_key),
        "server": None,
        "broker": None,
        "api_key_masked": mask_api_key(api_key),
    }


async def _verdict(
    db: UserSession,
    runtime: Runtime,
    account_id: UUID,
    job_id: UUID,
    wait: float | None,
    *,
    success_status: int,
    forget_on_rejection: bool = False,
) -> JSONResponse:
    """The answer once the worker has (or has not) acted on the account's job."""
    job = await await_job(db, runtime, job_id, runtime.wait_s(wait))
    if job["status"] in (JobStatus.QUEUED, JobStatus.RUNNING):
        async with db.transaction() as cur:
            account = await store.account(cur, account_id)
        pending = AccountPending(
            detail="the worker has not answered yet; poll the job",
            account=AccountOut.from_row(account),
            job=JobOut.from_row(job),
        )
        return answer(pending, 202, still_running(job_id))
    if job["status"] != JobStatus.SUCCEEDED:
        problem = job_problem(job)
        if forget_on_rejection and problem.status == 422:
            async with db.transaction() as cur:
                await store.one(cur, "api_delete_account", {"account_id": account_id})
            problem.detail += "; nothing was kept: correct the credentials and connect again"
        raise problem
    async with db.transaction() as cur:
        account = await store.account(cur, account_id)
    return answer(AccountOut.from_row(account), success_status)


@router.post(
    "",
    status_code=201,
    response_model=AccountOut,
    responses={202: {"model": AccountPending}, **WITH_VERDICT},
    summary="Connect an MT5 login or an exchange API key",
)
async def connect(
    body: ConnectRequest, db: CredentialsDb, runtime: RuntimeDep, wait: WaitQuery = None
) -> JSONResponse:
    """Encrypt the credentials, store the account as pending and wait for the worker to verify it.

    201: verified (with its balance). 422: the venue refused the credentials (nothing is
    kept; the reason says why). 202: still verifying, poll `Location`. 409: already connected.
    """
    account_id = uuid.uuid4()
    params = _connect_params(body, account_id, runtime.vault)
    async with db.transaction() as cur:
        job_id = await store.job_id_of(cur, "api_connect_account", params)
    response = await _verdict(
        db, runtime, account_id, job_id, wait, success_status=201, forget_on_rejection=True
    )
    if response.status_code == 201:
        response.headers["Location"] = f"/v1/accounts/{account_id}"
    return response


@router.get("", response_model=list[AccountOut], responses=ERRORS, summary="Your accounts")
async def list_accounts(db: UserDb) -> list[AccountOut]:
    """Every account you connected, with status, default flag and last balance. Never a secret."""
    async with db.transaction() as cur:
        rows = await store.accounts(cur)
    return [AccountOut.from_row(row) for row in rows]


@router.get("/{account_id}", response_model=AccountOut, responses=ERRORS, summary="One account")
async def get_account(account_id: UUID, db: UserDb) -> AccountOut:
    """One of your accounts (404 for any other id)."""
    async with db.transaction() as cur:
        return AccountOut.from_row(await store.account(cur, account_id))


@router.patch(
    "/{account_id}",
    response_model=AccountOut,
    responses={202: {"model": AccountPending}, **WITH_VERDICT},
    summary="Rename, re-limit, switch off/on, or give new credentials",
)
async def update_account(
    account_id: UUID,
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
            job_id = await _replace_credentials(cur, runtime.vault, account_id, body)
        row = await store.account(cur, account_id)
    if job_id is None:
        return answer(AccountOut.from_row(row))
    return await _verdict(db, runtime, account_id, job_id, wait, success_status=200)


async def _replace_credentials(
    cur: Cursor, vault: Vault, account_id: UUID, body: UpdateAccount
) -> UUID:
    creds = body.credentials
    assert creds is not None
    kind_row = await store.one(cur, "api_account_kind", {"account_id": account_id})
    assert kind_row is not None  # the update above found it
    expected = Mt5Credentials if kind_row["kind"] == "mt5" else ExchangeCredentials
    if not isinstance(creds, expected):
        fields = "password" if expected is Mt5Credentials else "api_key, api_secret (passphrase)"
        raise Problem(
            f"this is an {kind_row['kind']} account: credentials take {fields}",
            status=422,
            slug="validation-error",
        )
    sealed = vault.seal(account_id, _secret_of(creds))
    api_key = creds.api_key.get_secret_value() if isinstance(creds, ExchangeCredentials) else None
    return await store.job_id_of(
        cur,
        "api_replace_credentials",
        {
            "account_id": account_id,
            "login": fingerprint_api_key(api_key) if api_key else None,
            "api_key_masked": mask_api_key(api_key) if api_key else None,
            "ciphertext": sealed.ciphertext,
            "key_id": sealed.key_id,
        },
    )


@router.post(
    "/{account_id}/switch",
    response_model=AccountOut,
    responses={202: {"model": AccountPending}, **WITH_VERDICT},
    summary="Make it your active account",
)
async def switch_account(
    account_id: UUID, db: UserDb, runtime: RuntimeDep, wait: WaitQuery = None
) -> JSONResponse:
    """Trades without an account_id go here from now on; the worker logs the terminal in
    ahead of the next trade and answers with the live balance (202 if it has not yet)."""
    async with db.transaction() as cur:
        job_id = await store.job_id_of(cur, "api_switch_account", {"account_id": account_id})
    return await _verdict(db, runtime, account_id, job_id, wait, success_status=200)


@router.post(
    "/{account_id}/verify",
    response_model=AccountOut,
    responses={202: {"model": AccountPending}, **WITH_VERDICT},
    summary="Verify the stored credentials again, now",
)
async def verify_account(
    account_id: UUID, db: CredentialsDb, runtime: RuntimeDep, wait: WaitQuery = None
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
            },
        )
    return await _verdict(db, runtime, account_id, job_id, wait, success_status=200)


@router.delete(
    "/{account_id}",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
    summary="Delete an account and its credentials",
)
async def delete_account(account_id: UUID, db: UserDb) -> Response:
    """Credentials are destroyed and queued jobs cancelled; the trade journal and the audit
    log keep their rows (without the account link)."""
    async with db.transaction() as cur:
        if await store.one(cur, "api_delete_account", {"account_id": account_id}) is None:
            raise NotFound(f"account {account_id} not found")
    return Response(status_code=204)
