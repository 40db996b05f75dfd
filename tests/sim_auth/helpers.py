"""Talking to a running stand-in: the real `supabase` client, raw HTTP, TOTP codes."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pyotp
from supabase import Client, ClientOptions, create_client

from switchyard.sim.auth.server import AuthProcess

PASSWORD = "correct horse battery"

#: Clients made during the current test; conftest closes them afterwards.
OPEN_CLIENTS: list[Client] = []


def client(auth: AuthProcess) -> Client:
    """A fresh `supabase` client, exactly as an application creates one."""
    options = ClientOptions(auto_refresh_token=False, persist_session=True)
    made = create_client(auth.supabase_url, auth.anon_key, options)
    OPEN_CLIENTS.append(made)
    return made


def close_clients() -> None:
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().auth.close()


def raw(auth: AuthProcess, *, api_version: str | None = "2024-01-01") -> httpx.Client:
    """Plain HTTP to /auth/v1 with the anon key (and, by default, the clients' API version)."""
    headers = {"apikey": auth.anon_key}
    if api_version:
        headers["X-Supabase-Api-Version"] = api_version
    return httpx.Client(base_url=f"{auth.supabase_url}/auth/v1", headers=headers, timeout=30)


def jwt_part(token: str, index: int) -> dict[str, Any]:
    """The decoded header (0) or payload (1) of a JWT, unverified."""
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def wrong_code(secret: str) -> str:
    """Six digits that no TOTP window near now (past, present or the next few) accepts."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    near = {totp.at(now + 30 * step) for step in range(-3, 5)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in near)
