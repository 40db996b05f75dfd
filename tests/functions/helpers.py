"""Helpers of the HTTP functions' tests: the credentials they send, the response
recorder behind the secrets scan, request bodies and `Verdicts` (the job rows
completed through the database as the worker would, since no worker runs here)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI
from psycopg.rows import dict_row

from switchyard.domain import client_order_id
from tests.helpers import free_port

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


#: The client address every in-process request comes from (the audit log records it).
CLIENT = ("203.0.113.7", 50000)


@contextlib.asynccontextmanager
async def client_of(app: FastAPI, **transport: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app`, started (its lifespan) for the block and stopped after it, as a
    function process would be; every response is recorded for the secrets scan.
    `transport`: more options of httpx.ASGITransport (`raise_app_exceptions=False`)."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=CLIENT, **transport),
            base_url="http://functions.test",
            headers={"user-agent": "switchyard-tests/1"},
            event_hooks={"response": [recorder]},
        ) as client,
    ):
        yield client


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


class Served:
    """`switchyard functions` running as its own process (see the `make_server` fixture)."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def stop(self) -> str:
        """Stop the server (as Ctrl-C does) and return everything it wrote."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)
        return self.log.read_text()


def start_server(env: dict[str, str], log: Path) -> Served:
    """`python -m switchyard functions` on a free port, answering /healthz, or a failure."""
    port = free_port()
    command = [sys.executable, "-m", "switchyard", "functions", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    server = Served(f"http://127.0.0.1:{port}", process, log)
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise AssertionError(f"the server never answered: {log.read_text()}")


#: The trade most tests place: 0.10 lot of EURUSD at market.
BUY = {"symbol": "EURUSD", "side": "buy", "volume": "0.10"}


def fill_for(job: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The result a worker would write for `job` (a filled market order)."""
    return {
        "client_order_id": client_order_id(job["id"]),
        "order": "5001",
        "deal": "7001",
        "position": "5001",
        "price": "1.08512",
        "volume": "0.10",
        "retcode": 10009,
        "status": "filled",
        **extra,
    }
