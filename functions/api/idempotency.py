"""`Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header) for POST /v1/trades.

The key is a Structured Field string (`"8e03978e-..."`); a bare token is accepted too,
since that is what people type in curl. It is stored on the job with a hash of the
request (`jobs.idempotency_key`, `jobs.request_hash`), unique per user:

- same key, same request  → the first request's answer, no second job
- same key, other request → 422 (the key was reused for something else)
- same key, first request still being processed → 409, with the job to poll
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any
from uuid import UUID

from functions.api.problems import Problem
from functions.core.domain import JobKind, Payload

#: Printable ASCII without quotes or backslashes, as an sf-string may hold unescaped.
_KEY = re.compile(r"^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,255}$")


def parse_idempotency_key(header: str | None) -> str | None:
    """The key of an `Idempotency-Key` header, or a 400 saying what is wrong with it."""
    if header is None:
        return None
    value = header.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _KEY.match(value) or not value.strip():
        raise Problem(
            "Idempotency-Key must be a quoted string of 1-255 printable characters, "
            'e.g. Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"',
            status=400,
            slug="invalid-idempotency-key",
        )
    return value


def _canonical(value: Any) -> Any:
    """Numbers by value (`0.10` is `0.1`), everything else as JSON has it."""
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def request_hash(kind: JobKind, account_id: UUID | None, payload: Payload) -> str:
    """A fingerprint of what was asked, independent of JSON spelling and field order."""
    canonical: dict[str, Any] = {
        "kind": kind.value,
        "account_id": str(account_id) if account_id else None,
        "payload": _canonical(payload.model_dump(mode="python")),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def key_reused(key: str) -> Problem:
    return Problem(
        f"Idempotency-Key {key!r} was already used for a different request; "
        "use a new key for a new trade",
        status=422,
        slug="idempotency-key-reused",
    )


def still_processing(key: str, job_id: UUID) -> Problem:
    return Problem(
        f"the first request with Idempotency-Key {key!r} is still being processed; "
        f"poll /v1/jobs/{job_id} for its outcome",
        status=409,
        slug="idempotency-key-in-use",
        headers={"Location": f"/v1/jobs/{job_id}", "Retry-After": "1"},
        extra={"job_id": str(job_id)},
    )
