"""Field types shared by the request models: bounded, printable, never a surprise.

Postgres refuses NUL in text and jsonb; a control character in a name is never meant,
and a bidirectional control makes a name display as another one. Rejecting them here
keeps "bad input changes nothing" a 422, not a 500.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, StringConstraints

from switchyard.domain import EXCHANGE_VENUES, AccountStatus, JobKind, JobStatus, Venue

#: Control characters, surrogates, and line/paragraph separators (U+2028, U+2029).
_CONTROL_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
#: Bidirectional controls: they make text display in another order than it is stored
#: (U+202E turns "txt.exe" around), so a name could look like another one.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
#: An ISO 8601 / RFC 3339 date-time with its UTC offset (`2026-12-01T10:00:00Z`).
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})"
)


def one_of(members: Iterable[enum.StrEnum]) -> Any:
    """`Literal[...]` of the members' values, in their enum's order: the OpenAPI shows the
    values inline (`"enum": [...]`) and a refusal names them (`Input should be 'a' or 'b'`),
    exactly as a hand-written Literal, without spelling the vocabulary a second time.

    A type only to pydantic: annotate with the enum under `TYPE_CHECKING`.
    """
    chosen = set(members)
    kinds = {type(member) for member in chosen}
    assert len(kinds) == 1, "one enum at a time"
    (kind,) = kinds
    return Literal[tuple(member.value for member in kind if member in chosen)]


def no_controls(value: str) -> str:
    if any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in value):
        raise ValueError("control characters are not allowed")
    return value


def printable(value: str) -> str:
    """Text that displays as it is stored: no control and no bidirectional characters."""
    no_controls(value)
    if any(ch in BIDI_CONTROLS for ch in value):
        raise ValueError(
            "bidirectional control characters (such as U+202E) are not allowed: "
            "they make text display in another order than it is written"
        )
    return value


def iso_datetime(value: object) -> object:
    """Only an ISO 8601 string with an offset becomes a date-time: never a number (which
    pydantic would read as a Unix time), never a local time the server would guess."""
    if isinstance(value, str) and _ISO_DATETIME.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("must be an ISO 8601 date-time with a UTC offset, e.g. 2026-12-01T10:00:00Z")


def _printable_secret(value: SecretStr) -> SecretStr:
    # Postgres cannot store these; a password may hold any other character.
    if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in value.get_secret_value()):
        raise ValueError("control characters are not allowed")
    return value


#: A display name: 1-100 printable characters, surrounding spaces trimmed.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(printable),
]
#: An MT5 server name as the terminal shows it (`MetaQuotes-Demo`).
ServerName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(printable),
]
#: A password: kept as SecretStr so no repr, log or error ever shows it.
Password = Annotated[
    SecretStr, Field(min_length=1, max_length=128), AfterValidator(_printable_secret)
]
#: An exchange API key or secret as sent: line breaks allowed, since a Coinbase secret is a
#: PEM; each exchange's own shape (no spaces elsewhere) is checked by
#: `functions.api.schemas.exchange_keys`.
ExchangeSecret = Annotated[SecretStr, Field(min_length=8, max_length=1024)]
#: An OKX API passphrase.
Passphrase = Annotated[
    SecretStr, Field(min_length=1, max_length=128), AfterValidator(_printable_secret)
]
#: A free-text comment sent along with a trade.
Comment = Annotated[str, StringConstraints(max_length=64), AfterValidator(printable)]


def _no_spaces(value: str) -> str:
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain spaces")
    return printable(value)


#: A symbol as a venue spells it (`EURUSD`, `US30!`, `BTC/USDT`): 1-64 printable characters.
SymbolName = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_spaces)
]
#: A point in time, from an ISO 8601 string with its offset only.
IsoDateTime = Annotated[datetime, BeforeValidator(iso_datetime)]


if TYPE_CHECKING:  # to mypy, the enum (or its value); to pydantic, an inline Literal
    ExchangeName: TypeAlias = Venue
    VenueName: TypeAlias = str
    AccountStatusName: TypeAlias = str
    JobKindName: TypeAlias = str
    JobStatusName: TypeAlias = str
else:
    #: An exchange account's venue, validated into its `Venue` member.
    ExchangeName = Annotated[one_of(EXCHANGE_VENUES), AfterValidator(Venue)]
    #: The names of `switchyard.domain`'s enums, as the schema spells them.
    VenueName = one_of(Venue)
    AccountStatusName = one_of(AccountStatus)
    JobKindName = one_of(JobKind)
    JobStatusName = one_of(JobStatus)
