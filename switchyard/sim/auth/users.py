"""Users and their identities as GoTrue stores them and shows them (internal/models/user.go,
identity.go, factor.go: the JSON tags and their `omitempty`s).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final

from switchyard.sim.auth import errors, passwords
from switchyard.sim.auth.store import Row, Transaction, jsonb

#: GoTrue's JWT_AUD / JWT_DEFAULT_GROUP_NAME on Supabase.
AUDIENCE: Final = "authenticated"
ROLE: Final = "authenticated"
EMAIL_PROVIDER: Final = "email"

#: Timestamps GoTrue leaves out of a user's JSON when they are null.
_OPTIONAL_TIMES: Final = (
    ("email_confirmed_at", "email_confirmed_at"),
    ("invited_at", "invited_at"),
    ("phone_confirmed_at", "phone_confirmed_at"),
    ("confirmation_sent_at", "confirmation_sent_at"),
    ("confirmed_at", "confirmed_at"),
    ("recovery_sent_at", "recovery_sent_at"),
)


def go_time(value: dt.datetime | None) -> str | None:
    """A timestamp as Go's encoding/json writes a time.Time (RFC 3339, nanosecond precision
    with trailing zeros dropped, in UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def is_banned(user: Row, now: dt.datetime) -> bool:
    banned_until: dt.datetime | None = user["banned_until"]
    return banned_until is not None and now < banned_until


def has_verified_factor(factors: list[Row]) -> bool:
    return any(factor["status"] == "verified" for factor in factors)


def factor_json(factor: Row) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": str(factor["id"]),
        "created_at": go_time(factor["created_at"]),
        "updated_at": go_time(factor["updated_at"]),
        "status": factor["status"],
    }
    if factor["friendly_name"]:
        shown["friendly_name"] = factor["friendly_name"]
    shown["factor_type"] = factor["factor_type"]
    shown["phone"] = factor["phone"] or ""
    shown["last_challenged_at"] = go_time(factor["last_challenged_at"])
    return shown


def identity_json(identity: Row) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "identity_id": str(identity["id"]),
        "id": identity["provider_id"],
        "user_id": str(identity["user_id"]),
    }
    if identity["identity_data"]:
        shown["identity_data"] = identity["identity_data"]
    shown["provider"] = identity["provider"]
    if identity["last_sign_in_at"] is not None:
        shown["last_sign_in_at"] = go_time(identity["last_sign_in_at"])
    shown["created_at"] = go_time(identity["created_at"])
    shown["updated_at"] = go_time(identity["updated_at"])
    if identity["email"]:
        shown["email"] = identity["email"]
    return shown


def user_json(tx: Transaction, user: Row) -> dict[str, Any]:
    """The user as GoTrue answers it, with its factors and identities loaded."""
    shown: dict[str, Any] = {
        "id": str(user["id"]),
        "aud": user["aud"] or "",
        "role": user["role"] or "",
        "email": user["email"] or "",
    }
    for column, key in _OPTIONAL_TIMES[:2]:
        if user[column] is not None:
            shown[key] = go_time(user[column])
    shown["phone"] = user["phone"] or ""
    for column, key in _OPTIONAL_TIMES[2:]:
        if user[column] is not None:
            shown[key] = go_time(user[column])
    if user["email_change"]:
        shown["new_email"] = user["email_change"]
    if user["email_change_sent_at"] is not None:
        shown["email_change_sent_at"] = go_time(user["email_change_sent_at"])
    if user["phone_change"]:
        shown["new_phone"] = user["phone_change"]
    if user["phone_change_sent_at"] is not None:
        shown["phone_change_sent_at"] = go_time(user["phone_change_sent_at"])
    if user["reauthentication_sent_at"] is not None:
        shown["reauthentication_sent_at"] = go_time(user["reauthentication_sent_at"])
    if user["last_sign_in_at"] is not None:
        shown["last_sign_in_at"] = go_time(user["last_sign_in_at"])
    shown["app_metadata"] = user["raw_app_meta_data"] or {}
    shown["user_metadata"] = user["raw_user_meta_data"] or {}
    factors = tx.all("factors_of_user", user_id=user["id"])
    if factors:
        shown["factors"] = [factor_json(factor) for factor in factors]
    identities = tx.all("identities_of_user", user_id=user["id"])
    shown["identities"] = [identity_json(identity) for identity in identities]
    shown["created_at"] = go_time(user["created_at"])
    shown["updated_at"] = go_time(user["updated_at"])
    for column in ("banned_until", "deleted_at"):
        if user[column] is not None:
            shown[column] = go_time(user[column])
    shown["is_anonymous"] = bool(user["is_anonymous"])
    return shown


def load(tx: Transaction, user_id: uuid.UUID | str) -> Row:
    user = tx.one("user_by_id", id=user_id)
    if user is None:
        raise errors.internal("Database error finding user")
    return user


def by_email(tx: Transaction, email: str) -> Row | None:
    return tx.one("user_by_email", email=email, aud=AUDIENCE)


def sign_up_with_email(
    tx: Transaction, email: str, password: str, data: dict[str, Any], now: dt.datetime
) -> Row:
    """GoTrue's email sign-up with autoconfirm on: the user, confirmed, and its identity."""
    existing = by_email(tx, email)
    if existing is not None and existing["email_confirmed_at"] is not None:
        raise errors.unprocessable(errors.USER_ALREADY_EXISTS, "User already registered")
    if existing is None:
        user_id = uuid.uuid4()
        tx.run(
            "insert_user",
            id=user_id,
            aud=AUDIENCE,
            role=ROLE,
            email=email,
            encrypted_password=passwords.hash_password(password),
            app_metadata=jsonb({"provider": EMAIL_PROVIDER, "providers": [EMAIL_PROVIDER]}),
            user_metadata=jsonb(data),
            now=now,
        )
        user = load(tx, user_id)
    else:
        user = existing  # unconfirmed: GoTrue confirms it but does not trust the new password
    if tx.one("identity_by_provider", provider_id=str(user["id"]), provider=EMAIL_PROVIDER) is None:
        identity_data: dict[str, Any] = {
            "sub": str(user["id"]),
            "email": user["email"] or "",
            "email_verified": False,
            "phone_verified": False,
        }
        for key, value in data.items():
            identity_data.setdefault(key, value)
        tx.run(
            "insert_identity",
            provider_id=str(user["id"]),
            user_id=user["id"],
            identity_data=jsonb(identity_data),
            provider=EMAIL_PROVIDER,
            now=now,
        )
    tx.run("confirm_user_email", id=user["id"], now=now)
    return load(tx, user["id"])
