"""Every way a request can end, and how each is answered over HTTP: the one table.

Routes and helpers never name a status. They return a success outcome (`answer()` in
functions/api/verdicts.py) or raise a `Problem` naming an outcome with its detail
(functions/api/problems.py); `STATUSES` turns the outcome into a status, a problem type
(`urn:switchyard:problem:<slug>`) and the headers every such answer carries. The OpenAPI
`responses` of each endpoint are derived from the outcomes it declares, through this same
table (functions/api/openapi.py), so a status cannot be documented otherwise than it is
answered.

    the outcome                   comes from
    Outcome.*                     the request itself, a route, idempotency, the database
    ErrorCode.*                   a job that ended `failed` (switchyard.domain)
    Cancellation.*                a job that ended `cancelled`, by its reason
    SQLSTATE (`SQLSTATES`)        a refusal of the database: one of the Outcomes above

Nothing here imports FastAPI or psycopg: this module is the vocabulary and the table only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from switchyard.domain import USER_ERROR_CODES, ErrorCode

LOCATION: Final = "Location"
RETRY_AFTER: Final = "Retry-After"
WWW_AUTHENTICATE: Final = "WWW-Authenticate"
ALLOW: Final = "Allow"


class Outcome(enum.Enum):
    """How a request ended, in the routes' words (a job's own verdicts are below)."""

    DONE = enum.auto()  #: it did what was asked (for a job: the job succeeded)
    CREATED = enum.auto()  #: ... and a resource exists that did not (`Location` names it)
    DELETED = enum.auto()  #: the resource is gone
    STILL_RUNNING = enum.auto()  #: the worker has not answered within the wait: poll `Location`
    ACCEPTED = enum.auto()  #: taken for later work that has no one place to poll (a signal)
    MALFORMED_JSON = enum.auto()  #: the body is not JSON
    DUPLICATE_KEY = enum.auto()  #: the JSON body gives a key twice (strictjson.py)
    INVALID_IDEMPOTENCY_KEY = enum.auto()  #: the Idempotency-Key header is not a valid key
    INVALID = enum.auto()  #: the request breaks its schema (`errors` names the fields)
    BODY_TOO_LARGE = enum.auto()  #: above SWITCHYARD_MAX_BODY_BYTES; not read further
    UNAUTHORIZED = enum.auto()  #: no usable access token, or its user no longer exists
    OUT_OF_SCOPE = enum.auto()  #: an API token whose scopes do not cover this endpoint
    SECOND_FACTOR_REQUIRED = enum.auto()  #: the user has a second factor; this session is aal1
    SIGNAL_REJECTED = enum.auto()  #: a webhook body without its channel's secret (no token)
    NO_SUCH_ROUTE = enum.auto()  #: no endpoint at this path
    METHOD_NOT_ALLOWED = enum.auto()  #: the path exists; `Allow` lists its methods
    RATE_LIMITED = enum.auto()  #: the caller's window is full; `Retry-After` says when
    NOT_FOUND = enum.auto()  #: missing, or not the caller's: the two look the same
    CONFLICT = enum.auto()  #: the resource's state forbids it, or a unique index won a race
    UNPROCESSABLE = enum.auto()  #: valid as a request, refused by a rule of the schema
    IDEMPOTENCY_KEY_REUSED = enum.auto()  #: the key was used for a different request
    IDEMPOTENCY_KEY_IN_USE = enum.auto()  #: the key's first request is still being processed
    DATABASE_BUSY = enum.auto()  #: a serialization failure or a deadlock: safe to retry
    DATABASE_UNAVAILABLE = enum.auto()  #: the database cannot be reached (or refuses our login)
    UNREADABLE_JOB_ERROR = enum.auto()  #: a failed job whose `error` is not a JobError
    FAULT = enum.auto()  #: an unexpected exception: a bug of ours, logged


class Cancellation(enum.Enum):
    """Why a job ended `cancelled`, by the `code` of its error (any other: withdrawn)."""

    EXPIRED = ErrorCode.EXPIRED.value  #: not started within its time-to-live; never sent
    ACCOUNT_DELETED = "account_deleted"  #: its account was deleted (the schema's trigger)
    WITHDRAWN = "cancelled"  #: withdrawn before it ran, for no recorded reason

    @classmethod
    def of(cls, code: str | None) -> Cancellation:
        try:
            return cls(code)
        except ValueError:
            return cls.WITHDRAWN


#: Anything the table answers.
AnyOutcome = Outcome | ErrorCode | Cancellation


@dataclass(frozen=True, slots=True)
class Answer:
    """How one outcome is answered."""

    status: int
    #: The problem type `urn:switchyard:problem:<slug>`; None: `about:blank` (and successes).
    slug: str | None = None
    #: The headers every such answer carries: a fixed value, or None when each answer
    #: gives its own (a `Location`). The OpenAPI documents each of them.
    headers: Mapping[str, str | None] = field(default_factory=dict)


def _job_slug(code: ErrorCode) -> str:
    return code.value.replace("_", "-")


#: What every answer about a finished job carries: the job to read again.
_JOB: Final[Mapping[str, str | None]] = {LOCATION: None}

#: Every outcome → its answer. Nothing else under functions/ decides a status.
STATUSES: Final[Mapping[AnyOutcome, Answer]] = {
    # successes
    Outcome.DONE: Answer(200),
    Outcome.CREATED: Answer(201, headers={LOCATION: None}),
    Outcome.DELETED: Answer(204),
    Outcome.STILL_RUNNING: Answer(202, headers={LOCATION: None, RETRY_AFTER: "1"}),
    Outcome.ACCEPTED: Answer(202),
    # the request as it came
    Outcome.MALFORMED_JSON: Answer(400, "malformed-json"),
    Outcome.DUPLICATE_KEY: Answer(400, "duplicate-key"),
    Outcome.INVALID_IDEMPOTENCY_KEY: Answer(400, "invalid-idempotency-key"),
    Outcome.UNAUTHORIZED: Answer(
        401, "unauthorized", headers={WWW_AUTHENTICATE: 'Bearer error="invalid_token"'}
    ),
    Outcome.OUT_OF_SCOPE: Answer(403, "insufficient-scope"),
    Outcome.SECOND_FACTOR_REQUIRED: Answer(403, "second-factor-required"),
    Outcome.SIGNAL_REJECTED: Answer(401, "signal-secret-rejected"),
    Outcome.NO_SUCH_ROUTE: Answer(404),
    Outcome.METHOD_NOT_ALLOWED: Answer(405, headers={ALLOW: None}),
    Outcome.BODY_TOO_LARGE: Answer(413, "body-too-large"),
    Outcome.INVALID: Answer(422, "validation-error"),
    Outcome.RATE_LIMITED: Answer(429, "rate-limited", headers={RETRY_AFTER: None}),
    # what the resources, the schema and the idempotency keys say
    Outcome.NOT_FOUND: Answer(404, "not-found"),
    Outcome.CONFLICT: Answer(409, "conflict"),
    Outcome.UNPROCESSABLE: Answer(422, "unprocessable"),
    Outcome.IDEMPOTENCY_KEY_REUSED: Answer(422, "idempotency-key-reused"),
    Outcome.IDEMPOTENCY_KEY_IN_USE: Answer(
        409, "idempotency-key-in-use", headers={LOCATION: None, RETRY_AFTER: "1"}
    ),
    # the database, and faults of ours
    Outcome.DATABASE_BUSY: Answer(503, "retry", headers={RETRY_AFTER: "1"}),
    Outcome.DATABASE_UNAVAILABLE: Answer(503, "database-unavailable", headers={RETRY_AFTER: "5"}),
    Outcome.FAULT: Answer(500, "internal"),
    # a job that ended `failed`: the user's to fix, the venue's, or ours
    **{
        code: Answer(422, _job_slug(code), headers=_JOB)
        for code in ErrorCode  # in the enum's order
        if code in USER_ERROR_CODES
    },
    ErrorCode.VENUE_UNAVAILABLE: Answer(
        503, "venue-unavailable", headers={**_JOB, RETRY_AFTER: "30"}
    ),
    ErrorCode.INTERNAL: Answer(500, "internal", headers=_JOB),
    Outcome.UNREADABLE_JOB_ERROR: Answer(500, "internal", headers=_JOB),
    # a job that ended `cancelled`, whatever the reason: `code` in the body says which
    Cancellation.EXPIRED: Answer(409, "job-cancelled", headers=_JOB),
    Cancellation.ACCOUNT_DELETED: Answer(409, "job-cancelled", headers=_JOB),
    Cancellation.WITHDRAWN: Answer(409, "job-cancelled", headers=_JOB),
}


def answer_of(outcome: AnyOutcome) -> Answer:
    return STATUSES[outcome]


def status_of(outcome: AnyOutcome) -> int:
    return STATUSES[outcome].status


def fixed_headers(outcome: AnyOutcome) -> dict[str, str]:
    """The headers with a fixed value that every answer of `outcome` carries."""
    return {k: v for k, v in STATUSES[outcome].headers.items() if v is not None}


# --- refusals of the database -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a SQLSTATE is, as a request's outcome."""

    outcome: Outcome
    #: The detail when the server's message is not shown.
    detail: str
    #: Raised by our SECURITY DEFINER functions with a message written for the user (it
    #: names an account id or a state, never a secret): that message is the detail.
    ours: bool = False


_SCHEMA_RULE: Final = "the request breaks a rule of the schema"
_EXISTING: Final = "this conflicts with an existing resource"
_BUSY: Final = "the database was busy; try again"

#: SQLSTATE → its outcome. Any other refusal is not the caller's: a fault, or (a driver's
#: OperationalError) the database unavailable.
SQLSTATES: Final[Mapping[str, Refusal]] = {
    "P0002": Refusal(Outcome.NOT_FOUND, "not found", ours=True),  # private.own_account
    "SW409": Refusal(Outcome.CONFLICT, _EXISTING, ours=True),  # the account's state forbids it
    "SW422": Refusal(Outcome.UNPROCESSABLE, _SCHEMA_RULE, ours=True),  # not acceptable as is
    "SWMFA": Refusal(  # private.require_second_factor: a verified factor, an aal1 session
        Outcome.SECOND_FACTOR_REQUIRED, "this needs your second factor (an aal2 session)", ours=True
    ),
    "SW403": Refusal(  # beyond an API token's scopes (private.require_token_scope and co.)
        Outcome.OUT_OF_SCOPE, "an API token cannot do this", ours=True
    ),
    "23505": Refusal(Outcome.CONFLICT, _EXISTING),  # a unique index won a race: see below
    "23514": Refusal(Outcome.UNPROCESSABLE, _SCHEMA_RULE),  # a check (the models should catch it)
    "22001": Refusal(Outcome.UNPROCESSABLE, _SCHEMA_RULE),  # a value too long for its column
    "42501": Refusal(Outcome.NOT_FOUND, "not found"),  # RLS refused: the same as missing
    "28000": Refusal(  # no user in the claims, or one that was deleted (token still live)
        Outcome.UNAUTHORIZED, "the access token does not name an existing user: sign in again"
    ),
    "40001": Refusal(Outcome.DATABASE_BUSY, _BUSY),  # serialization failure
    "40P01": Refusal(Outcome.DATABASE_BUSY, _BUSY),  # deadlock
}

#: The unique indexes a request can race into: a conflict with an existing resource.
#: A unique violation of any other (an audit row's, say) is a fault, not the caller's.
CONFLICT_CONSTRAINTS: Final = frozenset(
    {
        "accounts_user_venue_login_key",  # the same login connected twice at once
        "accounts_one_default_per_user",  # two switches at once
        "jobs_idempotency_key_per_user",  # an Idempotency-Key raced in
    }
)


def refusal_of(sqlstate: str | None, constraint: str | None = None) -> Refusal | None:
    """The outcome of a database refusal we know; None for anything else."""
    refusal = SQLSTATES.get(sqlstate or "")
    if refusal is None or (sqlstate == "23505" and constraint not in CONFLICT_CONSTRAINTS):
        return None
    return refusal


# --- what endpoints can end with, in groups the routes declare ---------------------------

#: Every authenticated request: the token (an API token may lack the endpoint's scope), the
#: body's size, the rate limit (its charge is a write, so even a read can meet a deadlock),
#: the database.
AUTHENTICATED: Final = (
    Outcome.UNAUTHORIZED,
    Outcome.OUT_OF_SCOPE,
    Outcome.BODY_TOO_LARGE,
    Outcome.RATE_LIMITED,
    Outcome.DATABASE_UNAVAILABLE,
    Outcome.DATABASE_BUSY,
)
#: A request that names one of the caller's resources by id (the id may be malformed).
BY_ID: Final = (*AUTHENTICATED, Outcome.INVALID, Outcome.NOT_FOUND)
#: A request with a JSON body.
JSON_BODY: Final = (Outcome.MALFORMED_JSON, Outcome.DUPLICATE_KEY, Outcome.INVALID)
#: Every way a job can end but success.
JOB_FAILURES: Final = (*ErrorCode, Outcome.UNREADABLE_JOB_ERROR, *Cancellation)
#: A request that queues a job and waits for its verdict.
AWAITS_JOB: Final = (Outcome.STILL_RUNNING, *JOB_FAILURES)
