"""GoTrue's errors and how they go on the wire (internal/api/errors.go, apierrors/).

    Exception
    ├── ApiError            GoTrue's HTTPError: a status, an error_code and a message
    │   └── WeakPasswordError  422 weak_password, with the reasons
    ├── OAuthError          RFC 6749 shape, always 400 ({"error", "error_description"})
    └── GatewayError        what Supabase's API gateway answers before GoTrue (apikey)

A request that says `X-Supabase-Api-Version: 2024-01-01` (both Supabase clients do) gets
`{"code": "<error_code>", "message": ...}` and the header echoed back; one that does not
gets the initial shape `{"code": <status>, "error_code": ..., "msg": ...}`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final

from starlette.responses import JSONResponse, Response

API_VERSION_HEADER: Final = "X-Supabase-Api-Version"
API_VERSION_2024_01_01: Final = dt.date(2024, 1, 1)

# The error codes this stand-in can answer with (apierrors/errorcode.go).
UNKNOWN: Final = "unknown"
UNEXPECTED_FAILURE: Final = "unexpected_failure"
VALIDATION_FAILED: Final = "validation_failed"
BAD_JSON: Final = "bad_json"
EMAIL_EXISTS: Final = "email_exists"
BAD_JWT: Final = "bad_jwt"
NOT_ADMIN: Final = "not_admin"
NO_AUTHORIZATION: Final = "no_authorization"
USER_NOT_FOUND: Final = "user_not_found"
SESSION_NOT_FOUND: Final = "session_not_found"
SESSION_EXPIRED: Final = "session_expired"
REFRESH_TOKEN_NOT_FOUND: Final = "refresh_token_not_found"  # noqa: S105 - an error code
REFRESH_TOKEN_ALREADY_USED: Final = "refresh_token_already_used"  # noqa: S105 - an error code
USER_BANNED: Final = "user_banned"
EMAIL_NOT_CONFIRMED: Final = "email_not_confirmed"
EMAIL_ADDRESS_INVALID: Final = "email_address_invalid"
PHONE_PROVIDER_DISABLED: Final = "phone_provider_disabled"
ANONYMOUS_PROVIDER_DISABLED: Final = "anonymous_provider_disabled"
USER_ALREADY_EXISTS: Final = "user_already_exists"
WEAK_PASSWORD: Final = "weak_password"  # noqa: S105 - an error code
SAME_PASSWORD: Final = "same_password"  # noqa: S105 - an error code
INVALID_CREDENTIALS: Final = "invalid_credentials"
INSUFFICIENT_AAL: Final = "insufficient_aal"
TOO_MANY_ENROLLED_MFA_FACTORS: Final = "too_many_enrolled_mfa_factors"
MFA_FACTOR_NAME_CONFLICT: Final = "mfa_factor_name_conflict"
MFA_FACTOR_NOT_FOUND: Final = "mfa_factor_not_found"
MFA_IP_ADDRESS_MISMATCH: Final = "mfa_ip_address_mismatch"
MFA_CHALLENGE_EXPIRED: Final = "mfa_challenge_expired"
MFA_VERIFICATION_FAILED: Final = "mfa_verification_failed"
MFA_PHONE_ENROLL_DISABLED: Final = "mfa_phone_enroll_not_enabled"
MFA_WEBAUTHN_ENROLL_DISABLED: Final = "mfa_webauthn_enroll_not_enabled"
CONFLICT: Final = "conflict"
REQUEST_ENTITY_TOO_LARGE: Final = "request_entity_too_large"


class ApiError(Exception):
    """GoTrue's HTTPError: `{"code", "error_code", "msg"}` or `{"code", "message"}`."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


class WeakPasswordError(ApiError):
    """The password does not meet the strength rules (GoTrue's WeakPasswordError)."""

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(422, WEAK_PASSWORD, message)
        self.reasons = reasons


class OAuthError(Exception):
    """An RFC 6749 error body, always answered with 400 by GoTrue."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class GatewayError(Exception):
    """An answer of Supabase's API gateway (Kong), which GoTrue never sees."""

    def __init__(self, status: int, message: str, hint: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def unprocessable(code: str, message: str) -> ApiError:
    return ApiError(422, code, message)


def forbidden(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)


def internal(message: str) -> ApiError:
    return ApiError(500, UNEXPECTED_FAILURE, message)


def requested_api_version(header: str | None) -> dt.date | None:
    """The dated API version asked for; None for the initial one (and for garbage)."""
    if not header:
        return None
    try:
        asked = dt.date.fromisoformat(header.strip())
    except ValueError:
        return None
    return API_VERSION_2024_01_01 if asked >= API_VERSION_2024_01_01 else None


def render(exc: Exception, api_version_header: str | None) -> Response:
    """The response GoTrue (or the gateway) sends for `exc`."""
    if isinstance(exc, GatewayError):
        return JSONResponse({"message": exc.message, "hint": exc.hint}, status_code=exc.status)
    version = requested_api_version(api_version_header)
    headers = {API_VERSION_HEADER: version.isoformat()} if version else {}
    if isinstance(exc, OAuthError):
        body: dict[str, Any] = {"error": exc.error, "error_description": exc.description}
        return JSONResponse(body, status_code=400, headers=headers)
    if not isinstance(exc, ApiError):
        exc = internal("Unexpected failure, please check server logs for more information")
    code = exc.error_code or (UNEXPECTED_FAILURE if exc.status == 500 else UNKNOWN)
    if isinstance(exc, WeakPasswordError):
        if version:
            body = {"code": code, "message": exc.message}
        else:
            body = {"code": exc.status, "error_code": code, "msg": exc.message}
            headers["x-sb-error-code"] = code
        body["weak_password"] = {"reasons": exc.reasons}
        return JSONResponse(body, status_code=exc.status, headers=headers)
    headers["x-sb-error-code"] = code
    if version:
        body = {"code": code, "message": exc.message}
    else:
        body = {"code": exc.status, "error_code": code, "msg": exc.message}
        if exc.status >= 500:
            body["error_id"] = str(uuid.uuid4())
    return JSONResponse(body, status_code=exc.status, headers=headers)
