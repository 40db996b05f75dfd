"""TOTP factors as Supabase Auth runs them (internal/api/mfa.go, internal/models/factor.go,
challenge.go; github.com/pquerna/otp for the key, its URI and the code check).

Enrol: an unverified factor with a 20-byte secret, answered with the secret, its otpauth
URI and an SVG QR code of it. Challenge: a row bound to the caller's IP, valid 300 s.
Verify: the code of the current 30 s step or either neighbour; on success the factor is
verified, the session gains the `totp` AMR claim (so aal2) and a fresh refresh token, and
the user's other sessions below aal2 end. Unenrol a verified factor needs an aal2 session.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import secrets
import uuid
from typing import Any, Final
from urllib.parse import quote

import pyotp
import segno

from switchyard.sim.auth import errors, sessions
from switchyard.sim.auth.store import Row, Transaction
from switchyard.sim.auth.tokens import TokenService

#: GoTrue's MFA defaults (MFAConfiguration).
CHALLENGE_EXPIRY_S: Final = 300
FACTOR_EXPIRY_S: Final = 300
MAX_ENROLLED_FACTORS: Final = 10
MAX_VERIFIED_FACTORS: Final = 10
TOTP_SECRET_BYTES: Final = 20
#: The QR code's module size in SVG units (mfa.go's DefaultQRSize).
QR_SCALE: Final = 3


def totp_uri(secret: str, issuer: str, account: str) -> str:
    """pquerna/otp's Key.URL(): otpauth://totp/<issuer>:<account>?<sorted query>."""
    path = quote(f"/{issuer}:{account}", safe="/:@&=+$,;!*'()")
    query = {"algorithm": "SHA1", "digits": "6", "issuer": issuer, "period": "30", "secret": secret}
    value_safe = ":@&=+$!*'()"
    encoded = "&".join(
        f"{key}={quote(value, safe=value_safe)}" for key, value in sorted(query.items())
    )
    return f"otpauth://totp{path}?{encoded}"


def qr_svg(uri: str) -> str:
    """An SVG QR code of `uri` (error correction H, as GoTrue draws it)."""
    out = io.BytesIO()
    segno.make(uri, error="h", boost_error=False).save(out, kind="svg", scale=QR_SCALE)
    return out.getvalue().decode()


def enroll_totp(
    tx: Transaction,
    user: Row,
    session: Row,
    *,
    friendly_name: str,
    issuer: str,
    now: dt.datetime,
) -> dict[str, Any]:
    tx.run("delete_expired_factors", validity_s=FACTOR_EXPIRY_S, now=now)
    factors = tx.all("factors_of_user", user_id=user["id"])
    verified = 0
    for factor in factors:
        if (factor["friendly_name"] or "") == friendly_name:
            raise errors.unprocessable(
                errors.MFA_FACTOR_NAME_CONFLICT,
                f'A factor with the friendly name "{friendly_name}" for this user already exists',
            )
        verified += factor["status"] == "verified"
    if len(factors) >= MAX_ENROLLED_FACTORS or verified >= MAX_VERIFIED_FACTORS:
        raise errors.unprocessable(
            errors.TOO_MANY_ENROLLED_MFA_FACTORS,
            "Maximum number of verified factors reached, unenroll to continue",
        )
    if verified > 0 and session["aal"] != "aal2":
        raise errors.forbidden(errors.INSUFFICIENT_AAL, "AAL2 required to enroll a new factor")
    secret = base64.b32encode(secrets.token_bytes(TOTP_SECRET_BYTES)).decode().rstrip("=")
    uri = totp_uri(secret, issuer, user["email"] or "")
    factor_id = uuid.uuid4()
    tx.run(
        "insert_factor",
        id=factor_id,
        user_id=user["id"],
        friendly_name=friendly_name,
        secret=secret,
        now=now,
    )
    return {
        "id": str(factor_id),
        "type": "totp",
        "friendly_name": friendly_name,
        "totp": {"qr_code": qr_svg(uri), "secret": secret, "uri": uri},
    }


def owned_factor(tx: Transaction, user: Row, raw_id: str) -> Row:
    """The loadFactor middleware: a factor of this user, else 404."""
    try:
        factor_id = uuid.UUID(raw_id)
    except ValueError:
        raise errors.ApiError(404, errors.VALIDATION_FAILED, "factor_id must be an UUID") from None
    factor = tx.one("owned_factor", id=factor_id, user_id=user["id"])
    if factor is None:
        raise errors.ApiError(404, errors.MFA_FACTOR_NOT_FOUND, "Factor not found")
    return factor


def challenge(tx: Transaction, factor: Row, ip: str, now: dt.datetime) -> dict[str, Any]:
    challenge_id = uuid.uuid4()
    tx.run("insert_challenge", id=challenge_id, factor_id=factor["id"], ip=ip, now=now)
    tx.run("mark_factor_challenged", id=factor["id"], now=now)
    expires_at = now + dt.timedelta(seconds=CHALLENGE_EXPIRY_S)
    return {
        "id": str(challenge_id),
        "type": factor["factor_type"],
        "expires_at": int(expires_at.timestamp()),
    }


def open_challenge(
    tx: Transaction, factor: Row, challenge_id: uuid.UUID, ip: str, now: dt.datetime
) -> Row | errors.ApiError:
    """validateChallenge: this factor's, unverified, from the same IP, not expired.
    An expired one is deleted and its error returned, for the caller to raise once the
    deletion is committed (GoTrue deletes it outside any transaction)."""
    found = tx.one("challenge_of_factor", id=challenge_id, factor_id=factor["id"])
    if found is None:
        raise errors.unprocessable(
            errors.MFA_FACTOR_NOT_FOUND, "MFA factor with the provided challenge ID not found"
        )
    if found["verified_at"] is not None or found["ip_address"] != ip:
        raise errors.unprocessable(
            errors.MFA_IP_ADDRESS_MISMATCH, "Challenge and verify IP addresses mismatch."
        )
    if now > found["created_at"] + dt.timedelta(seconds=CHALLENGE_EXPIRY_S):
        tx.run("delete_challenge", id=found["id"])
        return errors.unprocessable(
            errors.MFA_CHALLENGE_EXPIRED,
            f"MFA challenge {found['id']} has expired, verify against another challenge "
            "or create a new challenge.",
        )
    return found


def challenge_id_param(params: dict[str, Any]) -> uuid.UUID:
    """VerifyFactorParams.ChallengeID: a UUID (absent: the nil UUID, which matches nothing)."""
    raw = params.get("challenge_id")
    if raw is None:
        return uuid.UUID(int=0)
    if not isinstance(raw, str):
        raise errors.bad_request(
            errors.BAD_JSON, "Could not parse request body as JSON: uuid: cannot unmarshal"
        )
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise errors.bad_request(
            errors.BAD_JSON,
            f"Could not parse request body as JSON: uuid: incorrect UUID length {len(raw)}",
        ) from None


def code_is_valid(secret: str, code: str, now: dt.datetime) -> bool:
    """totp.ValidateCustom with period 30, skew 1, six digits, SHA1."""
    return pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)


def verify(
    tx: Transaction,
    tokens: TokenService,
    user: Row,
    session: Row,
    factor: Row,
    found: Row,
    now: dt.datetime,
) -> dict[str, Any]:
    """A valid code's effects (verifyTOTPFactor + updateMFASessionAndClaims)."""
    tx.run("verify_challenge", id=found["id"], now=now)
    if factor["status"] != "verified":
        tx.run("verify_factor", id=factor["id"], now=now)
    sessions.add_claim(tx, session["id"], sessions.TOTP, now)
    current = tx.one("oldest_active_refresh_token", session_id=session["id"])
    if current is None:
        raise errors.internal("Database error finding the session's refresh token")
    refresh_token = sessions.swap(tx, current, now)
    aal, _ = sessions.aal_and_amr(tx, session["id"])
    tx.run("set_session_aal", id=session["id"], aal=aal, factor_id=factor["id"], now=now)
    answer = sessions.token_response(tx, tokens, user["id"], session["id"], refresh_token, now)
    tx.run("delete_sessions_below_aal", user_id=user["id"], aal="aal2")
    tx.run("delete_unverified_factors", user_id=user["id"], factor_type=factor["factor_type"])
    return answer


def unenroll(tx: Transaction, session: Row, factor: Row) -> dict[str, Any]:
    if factor["status"] == "verified" and session["aal"] != "aal2":
        raise errors.unprocessable(
            errors.INSUFFICIENT_AAL, "AAL2 required to unenroll verified factor"
        )
    tx.run("delete_factor", id=factor["id"])
    tx.run("delete_factor_amr_claims", method=sessions.TOTP, factor_id=factor["id"])
    tx.run("downgrade_factor_sessions", user_id=factor["user_id"], factor_id=factor["id"])
    return {"id": str(factor["id"])}
