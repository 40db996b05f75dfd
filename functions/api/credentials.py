"""Credentials on their way in: sealed to the account row they belong to, never kept.

What is encrypted (the password, or the API key set), and what is stored beside it in
clear: the MT5 login, or a fingerprint and a masked copy of the API key. The plain
secret lives only in the request's validated body and in the `dict` handed to the
vault; nothing here logs, returns or raises it.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from functions.api import store
from functions.api.problems import Problem
from functions.api.schemas.accounts import (
    ConnectExchange,
    ConnectMt5,
    ExchangeCredentials,
    Mt5Credentials,
)
from functions.api.schemas.exchange_keys import KeyShapeError, check_field
from functions.api.statuses import Outcome
from switchyard.domain import AccountId, Venue
from switchyard.vault import Vault, fingerprint_api_key, mask_api_key

Credentials = ConnectMt5 | ConnectExchange | Mt5Credentials | ExchangeCredentials


def secret_of(creds: Credentials) -> dict[str, str]:
    """What the vault seals: the values of the secret fields, nothing else."""
    if isinstance(creds, ConnectMt5 | Mt5Credentials):
        return {"password": creds.password.get_secret_value()}
    values = {
        "api_key": creds.api_key.get_secret_value(),
        "api_secret": creds.api_secret.get_secret_value(),
    }
    if creds.passphrase is not None:
        values["passphrase"] = creds.passphrase.get_secret_value()
    return values


def connect_params(
    body: ConnectMt5 | ConnectExchange, account_id: AccountId, vault: Vault
) -> dict[str, Any]:
    """The parameters of `api_connect_account`: the new row, its sealed secret."""
    sealed = vault.seal(account_id, secret_of(body))
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
            "venue": Venue.MT5.value,
            "login": str(body.login),
            "server": body.server,
            "broker": body.broker,
            "api_key_masked": None,
        }
    api_key = body.api_key.get_secret_value()
    return common | {
        "kind": "exchange",
        "venue": body.exchange.value,
        "login": fingerprint_api_key(api_key),
        "server": None,
        "broker": None,
        "api_key_masked": mask_api_key(api_key),
    }


def replacement_params(
    creds: Mt5Credentials | ExchangeCredentials,
    kind: str,
    venue: Venue,
    account_id: AccountId,
    vault: Vault,
) -> dict[str, Any]:
    """The parameters of `api_replace_credentials` for an account of `kind` at `venue`;
    credentials of the other kind, or not in the venue's key shape, are refused
    (`Outcome.INVALID`)."""
    expected = Mt5Credentials if kind == "mt5" else ExchangeCredentials
    if not isinstance(creds, expected):
        fields = "password" if expected is Mt5Credentials else "api_key, api_secret (passphrase)"
        raise Problem(Outcome.INVALID, f"this is an {kind} account: credentials take {fields}")
    if isinstance(creds, ExchangeCredentials):
        creds = _exchange_credentials(creds, venue)
    sealed = vault.seal(account_id, secret_of(creds))
    api_key = creds.api_key.get_secret_value() if isinstance(creds, ExchangeCredentials) else None
    return {
        "account_id": account_id,
        "login": fingerprint_api_key(api_key) if api_key else None,
        "api_key_masked": mask_api_key(api_key) if api_key else None,
        "ciphertext": sealed.ciphertext,
        "key_id": sealed.key_id,
    }


def _exchange_credentials(creds: ExchangeCredentials, venue: Venue) -> ExchangeCredentials:
    """`creds` checked against `venue`'s key shape (a Coinbase PEM normalised)."""
    if (venue is Venue.OKX) != (creds.passphrase is not None):
        need = "an OKX API key needs its passphrase" if venue is Venue.OKX else "leave it out"
        raise Problem(Outcome.INVALID, f"credentials.passphrase: {need}")
    shaped = {}
    for field in ("api_key", "api_secret"):
        value: SecretStr = getattr(creds, field)
        try:
            shaped[field] = SecretStr(check_field(venue, field, value.get_secret_value()))
        except KeyShapeError as exc:
            raise Problem(Outcome.INVALID, f"credentials.{field}: {exc}") from None
    return creds.model_copy(update=shaped)
