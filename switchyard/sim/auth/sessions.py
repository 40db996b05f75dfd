"""Sessions and refresh tokens as GoTrue keeps them (internal/models/sessions.go,
refresh_token.go, amr.go; internal/tokens/service.go).

Refresh tokens are GoTrue's default ("v1") kind: 12 random characters, one row each in
auth.refresh_tokens, rotated on every use (the old row is revoked, the new one names it
as `parent`). Reusing a revoked token is allowed only when its child is the session's
active token (the client lost the answer: the active token is sent again) or within the
reuse interval; otherwise every token of the session is revoked and the answer is
`refresh_token_already_used`.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final

from switchyard.sim.auth import errors, users
from switchyard.sim.auth.store import Row, Transaction
from switchyard.sim.auth.tokens import AmrEntry, TokenService

#: The authentication methods whose AMR claim makes a session aal2 (AMRClaim.IsAAL2Claim).
AAL2_METHODS: Final = frozenset({"totp", "mfa/phone", "mfa/webauthn"})
PASSWORD: Final = "password"  # noqa: S105 - the AMR method name
TOTP: Final = "totp"
LEGACY_TOKEN_LENGTH: Final = 12


@dataclass(frozen=True, slots=True)
class Client:
    """What GoTrue records about the caller (GrantParams.FillGrantParams)."""

    user_agent: str | None
    ip: str | None


def new_refresh_token() -> str:
    """crypto.SecureAlphanumeric(12): lower-case base32 of random bytes."""
    raw = base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=").lower()
    return raw[:LEGACY_TOKEN_LENGTH]


def aal_and_amr(tx: Transaction, session_id: uuid.UUID) -> tuple[str, list[AmrEntry]]:
    """Session.CalculateAALAndAMR: aal2 once an MFA method is claimed; newest first."""
    claims = tx.all("amr_claims_of_session", session_id=session_id)
    aal = "aal2" if any(c["authentication_method"] in AAL2_METHODS for c in claims) else "aal1"
    # Sorted on the full timestamps: claims made within one second keep their true order.
    claims.sort(key=lambda claim: claim["updated_at"], reverse=True)
    amr = [
        AmrEntry(method=c["authentication_method"], timestamp=int(c["updated_at"].timestamp()))
        for c in claims
    ]
    return aal, amr


def add_claim(tx: Transaction, session_id: uuid.UUID, method: str, now: dt.datetime) -> None:
    tx.run("add_amr_claim", id=uuid.uuid4(), session_id=session_id, method=method, now=now)


def token_response(
    tx: Transaction,
    tokens: TokenService,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    refresh_token: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """GoTrue's AccessTokenResponse for this session, with the user as it is now."""
    user = users.load(tx, user_id)
    aal, amr = aal_and_amr(tx, session_id)
    issued = tokens.issue(user, session_id=str(session_id), aal=aal, amr=amr, now=now)
    return {
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": issued.expires_at - int(now.timestamp()),
        "expires_at": issued.expires_at,
        "refresh_token": refresh_token,
        "user": users.user_json(tx, user),
    }


def sign_in(
    tx: Transaction,
    tokens: TokenService,
    user: Row,
    method: str,
    client: Client,
    now: dt.datetime,
) -> dict[str, Any]:
    """IssueRefreshToken: a new aal1 session, its first refresh token and an access token."""
    session_id = uuid.uuid4()
    tx.run(
        "insert_session",
        id=session_id,
        user_id=user["id"],
        user_agent=client.user_agent,
        ip=client.ip,
        now=now,
    )
    token = tx.one(
        "insert_refresh_token",
        token=new_refresh_token(),
        user_id=str(user["id"]),
        parent=None,
        session_id=session_id,
        now=now,
    )
    assert token is not None
    tx.run("record_sign_in", id=user["id"], now=now)
    add_claim(tx, session_id, method, now)
    return token_response(tx, tokens, user["id"], session_id, token["token"], now)


def swap(tx: Transaction, token: Row, now: dt.datetime) -> str:
    """GrantRefreshTokenSwap: revoke `token`, issue its child in the same session."""
    tx.run("revoke_refresh_token", id=token["id"], now=now)
    child = tx.one(
        "insert_refresh_token",
        token=new_refresh_token(),
        user_id=token["user_id"],
        parent=token["token"],
        session_id=token["session_id"],
        now=now,
    )
    assert child is not None
    return str(child["token"])


def refresh(
    tx: Transaction,
    tokens: TokenService,
    refresh_token: str,
    client: Client,
    now: dt.datetime,
    *,
    reuse_interval_s: int,
) -> dict[str, Any] | errors.ApiError:
    """The refresh_token grant. An ApiError is returned (not raised) when it must be
    answered after this transaction commits (a detected reuse revokes the session)."""
    not_found = errors.bad_request(
        errors.REFRESH_TOKEN_NOT_FOUND, "Invalid Refresh Token: Refresh Token Not Found"
    )
    if len(refresh_token) != LEGACY_TOKEN_LENGTH:
        raise not_found
    token = tx.one("lock_refresh_token", token=refresh_token)
    if token is None:
        raise not_found
    user = tx.one("user_by_id", id=token["user_id"])
    if user is None:
        raise not_found
    if users.is_banned(user, now):
        raise errors.bad_request(errors.USER_BANNED, "Invalid Refresh Token: User Banned")
    session = tx.one("lock_session", id=token["session_id"]) if token["session_id"] else None
    if session is None:
        raise errors.bad_request(
            errors.SESSION_NOT_FOUND, "Invalid Refresh Token: No Valid Session Found"
        )
    if session["not_after"] is not None and now > session["not_after"]:
        raise errors.bad_request(errors.SESSION_EXPIRED, "Invalid Refresh Token: Session Expired")
    issued: str | None = None
    if token["revoked"]:
        active = tx.one("active_refresh_token", session_id=session["id"])
        if active is not None and active["parent"] == token["token"]:
            issued = str(active["token"])  # the client never stored its last answer
        elif now > token["updated_at"] + dt.timedelta(seconds=reuse_interval_s):
            tx.run("revoke_session_refresh_tokens", session_id=session["id"], now=now)
            return errors.bad_request(
                errors.REFRESH_TOKEN_ALREADY_USED, "Invalid Refresh Token: Already Used"
            )
    if issued is None:
        issued = swap(tx, token, now)
    tx.run(
        "record_refresh",
        id=session["id"],
        refreshed_at=now.astimezone(dt.UTC).replace(tzinfo=None),
        user_agent=client.user_agent,
        ip=client.ip,
        now=now,
    )
    return token_response(tx, tokens, user["id"], session["id"], issued, now)


def log_out(tx: Transaction, user_id: uuid.UUID, session_id: uuid.UUID | None, scope: str) -> None:
    """Logout: `local` ends this session, `others` every other one, `global` them all."""
    if session_id is not None and scope == "local":
        tx.run("delete_session", id=session_id)
    elif session_id is not None and scope == "others":
        tx.run("delete_other_sessions", user_id=user_id, id=session_id)
    else:
        tx.run("delete_sessions_of_user", user_id=user_id)
