"""What each exchange's API key looks like, checked before anything is stored.

Binance, Bybit and OKX keys and secrets are single tokens: no spaces, no line breaks. A
Coinbase Advanced Trade key is a CDP API key: its name (``organizations/{org_id}/apiKeys/
{key_id}``, as Coinbase's key file calls it) goes in ``api_key``, its EC private key in PEM
(``-----BEGIN EC PRIVATE KEY-----`` ...) in ``api_secret``; the key must be an ECDSA
(ES256, P-256) key, the kind ccxt signs Coinbase's JWTs with. A PEM whose line breaks a
paste lost (literal ``\\n``, one long line, spaces) is stored with them again.

Every message says what is wrong and how to fix it, and never repeats the value sent.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from switchyard.domain import Venue

CDP_KEY_NAME: Final = re.compile(r"^organizations/[0-9A-Fa-f-]{36}/apiKeys/[0-9A-Fa-f-]{36}$")
PEM_BEGIN: Final = "-----BEGIN "
_PEM: Final = re.compile(r"(-----BEGIN [A-Z0-9 ]+-----)(.*?)(-----END [A-Z0-9 ]+-----)", re.S)


class KeyShapeError(ValueError):
    """An API key or secret that cannot be this exchange's (the message never quotes it)."""


def coinbase_secret(raw: str) -> str:
    """The PEM as the worker will use it, whatever a paste did to its line breaks: literal
    ``\\n`` read as line breaks, and a body flattened onto one line (a browser's password
    field drops line breaks) or broken with spaces wrapped again at 64 characters."""
    text = raw.replace("\\n", "\n").strip()
    found = _PEM.fullmatch(text)
    if found is None or ":" in found.group(2):  # not a PEM, or one with headers (encrypted)
        return text + "\n"
    head, body, tail = found.groups()
    body = "".join(body.split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([head, *lines, tail]) + "\n"


def check_field(venue: Venue, field: str, value: str) -> str:
    """``value`` of ``field`` (``api_key`` or ``api_secret``) as stored for ``venue``, or
    ``KeyShapeError`` saying what is wrong with it."""
    if venue is Venue.COINBASE:
        if field == "api_key":
            _check_cdp_name(value)
            return value
        pem = coinbase_secret(value)
        _check_cdp_private_key(pem)
        return pem
    if value != value.strip() or any(ch.isspace() for ch in value):
        raise KeyShapeError("must not contain spaces or line breaks")
    if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in value):
        raise KeyShapeError("control characters are not allowed")
    return value


def _check_cdp_name(name: str) -> None:
    if name.startswith(PEM_BEGIN):
        raise KeyShapeError(
            "this is a key in PEM; a Coinbase api_key is the CDP key's name, "
            "organizations/{org_id}/apiKeys/{key_id}, and its private key goes in api_secret"
        )
    if not CDP_KEY_NAME.match(name):
        raise KeyShapeError(
            "a Coinbase API key is the CDP key's name, "
            "organizations/{org_id}/apiKeys/{key_id} (the `name` in the key file Coinbase "
            "gives you when you create it)"
        )


def _check_cdp_private_key(pem: str) -> None:
    if not pem.startswith(PEM_BEGIN):
        raise KeyShapeError(
            "a Coinbase API secret is the CDP key's private key in PEM, "
            "starting with -----BEGIN EC PRIVATE KEY-----"
        )
    if "PUBLIC KEY-----" in pem.split("\n", 1)[0]:
        raise KeyShapeError(
            "this is a public key; paste the private key "
            "(-----BEGIN EC PRIVATE KEY-----, the `privateKey` of Coinbase's key file)"
        )
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except TypeError as exc:
        raise KeyShapeError(
            "the private key is encrypted; paste it unencrypted, as Coinbase hands it out"
        ) from exc
    except ValueError as exc:
        raise KeyShapeError(
            "not a readable PEM private key (truncated, altered, or its line "
            "breaks lost); paste the whole `privateKey` from Coinbase's key file"
        ) from exc
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyShapeError(
            "an Ed25519 key; switchyard needs an ECDSA (ES256) key: create the "
            "CDP API key with the ECDSA signature algorithm"
        )
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyShapeError(
            "not an ECDSA P-256 private key; Coinbase API keys are ECDSA (ES256) "
            "keys on curve P-256"
        )
