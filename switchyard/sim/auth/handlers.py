"""GoTrue's handlers for what the Supabase clients use with email and password
(internal/api: signup.go, token.go, user.go, logout.go, mfa.go, settings.go, jwks.go).

Each handler is synchronous (run in a worker thread), takes the service and the call, and
answers `(status, JSON body)`; errors are raised as `errors.*` and rendered by the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from switchyard.sim.auth import errors, mfa, passwords, sessions, users
from switchyard.sim.auth.calls import (
    Authenticated,
    Call,
    authenticate,
    object_param,
    text_param,
)
from switchyard.sim.auth.config import AuthConfig
from switchyard.sim.auth.store import Store, Transaction, jsonb
from switchyard.sim.auth.tokens import TokenService

Answer = tuple[int, Any]
VERSION = "v2.196.0-switchyard-sim"


@dataclass(frozen=True, kw_only=True)
class Service:
    config: AuthConfig
    store: Store = field(repr=False)
    tokens: TokenService = field(repr=False)
    anon_key: str = field(repr=False)


def health(svc: Service, call: Call) -> Answer:
    return 200, {
        "version": VERSION,
        "name": "GoTrue",
        "description": "GoTrue is a user registration and authentication API",
    }


def settings(svc: Service, call: Call) -> Answer:
    providers = [
        "anonymous_users", "apple", "azure", "bitbucket", "discord", "facebook", "snapchat",
        "figma", "fly", "github", "gitlab", "google", "keycloak", "kakao", "linkedin",
        "linkedin_oidc", "notion", "spotify", "slack", "slack_oidc", "workos", "twitch",
        "twitter", "email", "phone", "zoom",
    ]  # fmt: skip
    return 200, {
        "external": {name: name == "email" for name in providers},
        "disable_signup": False,
        "mailer_autoconfirm": True,
        "phone_autoconfirm": False,
        "sms_provider": "",
        "saml_enabled": False,
        "saml_private_key_next_configured": False,
        "passkeys_enabled": False,
    }


def jwks(svc: Service, call: Call) -> Answer:
    return 200, svc.tokens.jwks()


def signup(svc: Service, call: Call) -> Answer:
    params = call.params()
    email, phone = text_param(params, "email"), text_param(params, "phone")
    password = text_param(params, "password")
    data = object_param(params, "data") or {}
    if not email and not phone:
        raise errors.unprocessable(
            errors.ANONYMOUS_PROVIDER_DISABLED, "Anonymous sign-ins are disabled"
        )
    if password == "":
        raise errors.bad_request(errors.VALIDATION_FAILED, "Signup requires a valid password")
    passwords.check_strength(password)
    if email and phone:
        raise errors.bad_request(
            errors.VALIDATION_FAILED,
            "Only an email address or phone number should be provided on signup.",
        )
    if phone:
        raise errors.bad_request(errors.PHONE_PROVIDER_DISABLED, "Phone signups are disabled")
    email = passwords.normalize_email(email)
    with svc.store.transaction() as tx:
        user = users.sign_up_with_email(tx, email, password, data, call.now)
        return 200, sessions.sign_in(tx, svc.tokens, user, sessions.PASSWORD, call.client, call.now)


def token(svc: Service, call: Call) -> Answer:
    grant_type = call.query.get("grant_type", "")
    if grant_type == "password":
        return _password_grant(svc, call)
    if grant_type == "refresh_token":
        return _refresh_token_grant(svc, call)
    raise errors.bad_request(errors.INVALID_CREDENTIALS, "unsupported_grant_type")


def _password_grant(svc: Service, call: Call) -> Answer:
    params = call.params()
    email, phone = text_param(params, "email"), text_param(params, "phone")
    password = text_param(params, "password")
    if email and phone:
        raise errors.bad_request(
            errors.VALIDATION_FAILED,
            "Only an email address or phone number should be provided on login.",
        )
    if phone:
        raise errors.unprocessable(errors.PHONE_PROVIDER_DISABLED, "Phone logins are disabled")
    if not email:
        raise errors.bad_request(errors.VALIDATION_FAILED, "missing email or phone")
    refused = errors.bad_request(errors.INVALID_CREDENTIALS, "Invalid login credentials")
    with svc.store.transaction() as tx:
        user = users.by_email(tx, email)
        if user is None or not user["encrypted_password"]:
            raise refused
        if users.is_banned(user, call.now):
            raise errors.bad_request(errors.USER_BANNED, "User is banned")
        if not passwords.check_password(password, user["encrypted_password"]):
            raise refused
        if user["email_confirmed_at"] is None:
            raise errors.bad_request(errors.EMAIL_NOT_CONFIRMED, "Email not confirmed")
        answer = sessions.sign_in(tx, svc.tokens, user, sessions.PASSWORD, call.client, call.now)
    weak = passwords.weakness(password)  # a valid but weak password still signs in
    if weak is not None:
        answer["weak_password"] = {"message": weak.message, "reasons": weak.reasons}
    return 200, answer


def _refresh_token_grant(svc: Service, call: Call) -> Answer:
    refresh_token = text_param(call.params(), "refresh_token")
    if refresh_token == "":
        raise errors.OAuthError("invalid_request", "refresh_token required")
    with svc.store.transaction() as tx:
        outcome = sessions.refresh(
            tx,
            svc.tokens,
            refresh_token,
            call.client,
            call.now,
            reuse_interval_s=svc.config.refresh_token_reuse_interval_s,
        )
    if isinstance(outcome, errors.ApiError):
        raise outcome  # committed first: a detected reuse has revoked the session's tokens
    return 200, outcome


def get_user(svc: Service, call: Call) -> Answer:
    with svc.store.transaction() as tx:
        auth = authenticate(tx, call, svc.tokens)
        audience = call.headers.get("x-jwt-aud") or auth.claims.get("aud") or users.AUDIENCE
        claimed = auth.claims.get("aud")
        first = claimed[0] if isinstance(claimed, list) and claimed else claimed
        if not first or first != audience:
            raise errors.bad_request(
                errors.VALIDATION_FAILED, "Token audience doesn't match request audience"
            )
        return 200, users.user_json(tx, auth.user)


def update_user(svc: Service, call: Call) -> Answer:
    """PUT /user for the password and user_metadata (`data`); email and phone changes
    need GoTrue's mailer or SMS provider and are not served by this stand-in."""
    with svc.store.transaction() as tx:
        auth = authenticate(tx, call, svc.tokens)
        user = auth.user
        params = call.params()
        password = text_param(params, "password") if params.get("password") is not None else None
        data = object_param(params, "data")
        for field_name, current in (("email", user["email"]), ("phone", user["phone"])):
            wanted = text_param(params, field_name)
            if wanted and wanted != (current or ""):
                raise errors.ApiError(
                    501, "not_implemented", f"the local Auth stand-in cannot change a {field_name}"
                )
        if password is not None:
            passwords.check_strength(password)
        if object_param(params, "app_metadata") is not None:
            raise errors.forbidden(
                errors.NOT_ADMIN, "Updating app_metadata requires admin privileges"
            )
        factors = tx.all("factors_of_user", user_id=user["id"])
        aal2 = auth.session is not None and auth.session["aal"] == "aal2"
        if users.has_verified_factor(factors) and not aal2 and password:
            raise errors.ApiError(
                401,
                errors.INSUFFICIENT_AAL,
                "AAL2 session is required to update email or password when MFA is enabled.",
            )
        if password is not None:
            if password and passwords.check_password(password, user["encrypted_password"]):
                raise errors.unprocessable(
                    errors.SAME_PASSWORD, "New password should be different from the old password."
                )
            encrypted = passwords.hash_password(password) if password else ""
            tx.run("update_password", id=user["id"], encrypted_password=encrypted, now=call.now)
            if auth.session is not None:
                tx.run("delete_other_sessions", user_id=user["id"], id=auth.session["id"])
            else:
                tx.run("delete_sessions_of_user", user_id=user["id"])
        if data is not None:
            merged = dict(user["raw_user_meta_data"] or {})
            for key, value in data.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            tx.run("update_user_metadata", id=user["id"], user_metadata=jsonb(merged), now=call.now)
        return 200, users.user_json(tx, users.load(tx, user["id"]))


def logout(svc: Service, call: Call) -> Answer:
    scope = call.query.get("scope", "") or "global"
    if scope not in ("global", "local", "others"):
        raise errors.bad_request(
            errors.VALIDATION_FAILED, f'Unsupported logout scope "{call.query.get("scope")}"'
        )
    with svc.store.transaction() as tx:
        auth = authenticate(tx, call, svc.tokens)
        session_id = auth.session["id"] if auth.session is not None else None
        sessions.log_out(tx, auth.user["id"], session_id, scope)
    return 204, None


def enroll_factor(svc: Service, call: Call) -> Answer:
    with svc.store.transaction() as tx:
        auth = _member(tx, call, svc)
        params = call.params()
        factor_type = text_param(params, "factor_type")
        friendly_name = text_param(params, "friendly_name")
        issuer = text_param(params, "issuer") or svc.config.totp_issuer
        if factor_type == "phone":
            raise errors.unprocessable(
                errors.MFA_PHONE_ENROLL_DISABLED, "MFA enroll is disabled for Phone"
            )
        if factor_type == "webauthn":
            raise errors.unprocessable(
                errors.MFA_WEBAUTHN_ENROLL_DISABLED, "MFA enroll is disabled for WebAuthn"
            )
        if factor_type != "totp":
            raise errors.bad_request(
                errors.VALIDATION_FAILED, "factor_type needs to be totp, phone, or webauthn"
            )
        return 200, mfa.enroll_totp(
            tx, auth.user, auth.require_session(), friendly_name=friendly_name, issuer=issuer,
            now=call.now,
        )  # fmt: skip


def challenge_factor(svc: Service, call: Call) -> Answer:
    with svc.store.transaction() as tx:
        auth = _member(tx, call, svc)
        factor = mfa.owned_factor(tx, auth.user, call.path_params["factor_id"])
        return 200, mfa.challenge(tx, factor, call.ip, call.now)


def verify_factor(svc: Service, call: Call) -> Answer:
    with svc.store.transaction() as tx:
        auth = _member(tx, call, svc)
        factor = mfa.owned_factor(tx, auth.user, call.path_params["factor_id"])
        params = call.params()
        challenge_id = mfa.challenge_id_param(params)
        code = text_param(params, "code")
        if code == "":
            raise errors.bad_request(errors.VALIDATION_FAILED, "Code needs to be non-empty")
        found = mfa.open_challenge(tx, factor, challenge_id, call.ip, call.now)
        if isinstance(found, errors.ApiError):
            failure = found  # an expired challenge: its deletion is committed first
        elif mfa.code_is_valid(factor["secret"], code, call.now):
            session = auth.require_session()
            return 200, mfa.verify(tx, svc.tokens, auth.user, session, factor, found, call.now)
        else:
            failure = errors.unprocessable(
                errors.MFA_VERIFICATION_FAILED, "Invalid TOTP code entered"
            )
    raise failure


def unenroll_factor(svc: Service, call: Call) -> Answer:
    with svc.store.transaction() as tx:
        auth = _member(tx, call, svc)
        factor = mfa.owned_factor(tx, auth.user, call.path_params["factor_id"])
        return 200, mfa.unenroll(tx, auth.require_session(), factor)


def _member(tx: Transaction, call: Call, svc: Service) -> Authenticated:
    """requireAuthentication + requireNotAnonymous, what /factors sits behind."""
    auth = authenticate(tx, call, svc.tokens)
    if auth.claims.get("is_anonymous") is True:
        raise errors.forbidden(
            errors.NO_AUTHORIZATION, "Anonymous user not allowed to perform these actions"
        )
    return auth
