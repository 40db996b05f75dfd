"""Helpers of the HTTP functions' tests: the credentials they send, the response
recorder behind the secrets scan, request bodies and `Verdicts` (the job rows
completed through the database as the worker would, since no worker runs here)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

#: Every credential the tests send. None may ever come back in a response.
MT5_PASSWORD = "mt5-Pa55word-never-returned"
MT5_NEW_PASSWORD = "mt5-n3w-Pa55word-never-returned"
API_KEY = "AKEY-0123456789abcdef-never-returned"
API_SECRET = "ASECRET-fedcba9876543210-never-returned"
PASSPHRASE = "okx-passphrase-never-returned"
SECRET_VALUES = (MT5_PASSWORD, MT5_NEW_PASSWORD, API_KEY, API_SECRET, PASSPHRASE)
#: Every Fernet token starts with these bytes (version 0x80, base64url).
FERNET_PREFIX = "gAAAAA"

#: (url, body) of every response of the session, scanned at its end.
RECORDED: list[tuple[str, str]] = []


def leaked(bodies: list[tuple[str, str]]) -> list[str]:
    """Where a secret or a ciphertext appears in recorded (url, body) pairs."""
    found = []
    for url, body in bodies:
        for value in (*SECRET_VALUES, FERNET_PREFIX):
            if value in body:
                found.append(f"{url}: contains {value[:6]}…")
    return found


async def recorder(response: httpx.Response) -> None:
    body = await response.aread()
    RECORDED.append((str(response.request.url), body.decode("utf-8", "replace")))
    for value in response.headers.values():
        RECORDED.append((f"{response.request.url} (headers)", value))


def bearer(user: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {user.token}"}


def mt5_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "mt5",
        "name": "Demo",
        "login": 51234567,
        "password": MT5_PASSWORD,
        "server": "MetaQuotes-Demo",
        "environment": "demo",
    }
    body.update(overrides)
    return body


def exchange_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "exchange",
        "exchange": "okx",
        "name": "OKX",
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "passphrase": PASSPHRASE,
        "environment": "testnet",
    }
    body.update(overrides)
    return body


class Verdicts:
    """Completes job rows through the database, exactly as the worker would write them."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def _conn(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, row_factory=dict_row
        )

    async def next_queued(self, kind: str, timeout_s: float = 10) -> dict[str, Any]:
        """The oldest queued job of `kind`, waiting for it to appear."""
        async with await self._conn() as conn:
            for _ in range(int(timeout_s / 0.02)):
                row = await (
                    await conn.execute(
                        "select * from public.jobs where status = 'queued' and kind = %s "
                        "order by created_at limit 1",
                        (kind,),
                    )
                ).fetchone()
                if row is not None:
                    return row
                await asyncio.sleep(0.02)
        raise AssertionError(f"no queued {kind} job appeared")

    async def succeed(self, job: dict[str, Any], result: dict[str, Any] | None = None) -> None:
        async with await self._conn() as conn, conn.transaction():
            if job["kind"] in ("verify", "switch", "sync"):
                snapshot = result or {
                    "balance": "10000.00",
                    "equity": "10000.00",
                    "currency": "USD",
                    "leverage": 100,
                }
                await conn.execute(
                    "update public.accounts set status = 'verified', status_reason = null, "
                    "verified_at = now(), currency = %(currency)s, leverage = %(leverage)s, "
                    "permissions = '{\"trade\": true}' where id = %(id)s",
                    {
                        "id": job["account_id"],
                        "currency": snapshot["currency"],
                        "leverage": snapshot.get("leverage"),
                    },
                )
                await conn.execute(
                    "insert into public.balance_snapshots (user_id, account_id, balance, equity,"
                    " currency, leverage) values (%s, %s, %s, %s, %s, %s)",
                    (
                        job["user_id"],
                        job["account_id"],
                        snapshot["balance"],
                        snapshot.get("equity"),
                        snapshot["currency"],
                        snapshot.get("leverage"),
                    ),
                )
                result = snapshot
            await conn.execute(
                "update public.jobs set status = 'succeeded', result = %s, finished_at = now() "
                "where id = %s",
                (json.dumps(result or {}), job["id"]),
            )

    async def fail(
        self, job: dict[str, Any], code: str, message: str, retcode: int | None = None
    ) -> None:
        async with await self._conn() as conn, conn.transaction():
            if code == "credentials_rejected":
                await conn.execute(
                    "update public.accounts set status = 'failed', status_reason = %s "
                    "where id = %s",
                    (message, job["account_id"]),
                )
            error = {"code": code, "message": message}
            if retcode is not None:
                error["retcode"] = retcode
            await conn.execute(
                "update public.jobs set status = 'failed', error = %s, finished_at = now() "
                "where id = %s",
                (json.dumps(error), job["id"]),
            )

    async def verify_next(self) -> dict[str, Any]:
        job = await self.next_queued("verify")
        await self.succeed(job)
        return job


async def connected_account(
    client: httpx.AsyncClient, verdicts: Verdicts, user: Any, **overrides: Any
) -> dict[str, Any]:
    """A verified MT5 account of `user`, connected through the API."""
    response, _ = await asyncio.gather(
        client.post("/v1/accounts", json=mt5_body(**overrides), headers=bearer(user)),
        verdicts.verify_next(),
    )
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    return account
