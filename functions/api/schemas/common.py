"""Field types shared by the request models: bounded, printable, never a surprise.

Postgres refuses NUL in text and jsonb; a control character in a name is never meant.
Rejecting them here keeps "bad input changes nothing" a 422, not a 500.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr, StringConstraints


def printable(value: str) -> str:
    if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in value):
        raise ValueError("control characters are not allowed")
    return value


def _printable_secret(value: SecretStr) -> SecretStr:
    printable(value.get_secret_value())
    return value


def _no_whitespace_secret(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value()
    if raw != raw.strip() or any(ch.isspace() for ch in raw):
        raise ValueError("must not contain spaces")
    return _printable_secret(value)


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
#: An exchange API key or secret.
ApiSecret = Annotated[
    SecretStr, Field(min_length=8, max_length=512), AfterValidator(_no_whitespace_secret)
]
#: An OKX API passphrase.
Passphrase = Annotated[
    SecretStr, Field(min_length=1, max_length=128), AfterValidator(_printable_secret)
]
#: A free-text comment sent along with a trade.
Comment = Annotated[str, StringConstraints(max_length=64), AfterValidator(printable)]
