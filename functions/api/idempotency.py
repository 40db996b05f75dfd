"""`Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header) for POST /v1/trades.

The key is a Structured Field string (`"8e03978e-..."`); a bare token is accepted too,
since that is what people type in curl. It is stored on the job with a hash of the
request (`jobs.idempotency_key`, `jobs.request_hash`), unique per user:

- same key, same request  → the first request's answer, no second job
- same key, other request → `IDEMPOTENCY_KEY_REUSED` (422: reused for something else)
- same key, first request still being processed → `IDEMPOTENCY_KEY_IN_USE` (409), with
  the job to poll
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any
from uuid import UUID

from functions.api.problems import Problem
from functions.api.statuses import LOCATION, Outcome, answer_of
from switchyard.domain import JobKind, Payload

_INVALID = answer_of(Outcome.INVALID_IDEMPOTENCY_KEY)
_REUSED = answer_of(Outcome.IDEMPOTENCY_KEY_REUSED)
_IN_USE = answer_of(Outcome.IDEMPOTENCY_KEY_IN_USE)
#: What the OpenAPI says about the header (its statuses as the table answers them).
IDEMPOTENCY_KEY_RULES = (
    "Makes retrying this request safe (draft-ietf-httpapi-idempotency-key-header). "
    'A Structured Field string, e.g. `Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`, '
    'of 1 to 255 printable ASCII characters without `"` or `\\` (a bare token is accepted '
    f"too); anything else is **{_INVALID.status}**. Use a new key for every new trade; keys "
    "are yours alone and are kept with the trade. The same key with the same request (the "
    "same fields and values in any order or spelling, `account_id` and `ttl_s` included) "
    "answers the first request's outcome again, with `Idempotent-Replayed: true`, and "
    f"never places a second trade. The same key with a different request is **{_REUSED.status}** "
    f"(`{_REUSED.slug}`). While the first request is still being processed, "
    f"**{_IN_USE.status}** (`{_IN_USE.slug}`) with `Location` to poll. Without the header "
    "every request is a new trade."
)
#: Printable ASCII without quotes or backslashes, as an sf-string may hold unescaped.
_KEY = re.compile(r"^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,255}$")


def parse_idempotency_key(header: str | None) -> str | None:
    """The key of an `Idempotency-Key` header, or a Problem saying what is wrong with it."""
    if header is None:
        return None
    value = header.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _KEY.match(value) or not value.strip():
        raise Problem(
            Outcome.INVALID_IDEMPOTENCY_KEY,
            "Idempotency-Key must be a quoted string of 1-255 printable characters, "
            'e.g. Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"',
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


#: Payload fields added once requests were already being fingerprinted: left out while
#: absent (None), so that a request which does not use them keeps its fingerprint.
_ADDED_LATER = frozenset({"leverage"})


def request_hash(
    kind: JobKind, account_id: UUID | None, payload: Payload, ttl_s: int | None = None
) -> str:
    """A fingerprint of what was asked, independent of JSON spelling and field order.

    A `ttl_s` the client gave is part of what was asked (the same body with another
    deadline is another request); without one the fingerprint is what it always was.
    """
    canonical: dict[str, Any] = {
        "kind": kind.value,
        "account_id": str(account_id) if account_id else None,
        "payload": _canonical(
            {
                name: value
                for name, value in payload.model_dump(mode="python").items()
                if value is not None or name not in _ADDED_LATER
            }
        ),
    }
    if ttl_s is not None:
        canonical["ttl_s"] = ttl_s
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def key_reused(key: str) -> Problem:
    return Problem(
        Outcome.IDEMPOTENCY_KEY_REUSED,
        f"Idempotency-Key {key!r} was already used for a different request; "
        "use a new key for a new trade",
    )


def still_processing(key: str, job_id: UUID) -> Problem:
    return Problem(
        Outcome.IDEMPOTENCY_KEY_IN_USE,
        f"the first request with Idempotency-Key {key!r} is still being processed; "
        f"poll /v1/jobs/{job_id} for its outcome",
        headers={LOCATION: f"/v1/jobs/{job_id}"},
        extra={"job_id": str(job_id)},
    )
