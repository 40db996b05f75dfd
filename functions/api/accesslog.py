"""Credentials never reach an access log: query parameters that carry one are redacted.

A token pasted into a URL (`?access_token=...`) is refused by the API, but the access
log would still write the request target as it came. `RedactSecrets` rewrites it to
`?access_token=[redacted]` in every record of uvicorn's loggers, whichever host runs us.
"""

from __future__ import annotations

import logging
import re
from typing import Final
from urllib.parse import unquote_plus

#: Query parameters whose value is a credential, compared lower-case with `-` as `_`.
SECRET_PARAMETERS: Final = frozenset(
    {
        "access_token",
        "token",
        "apikey",
        "api_key",
        "refresh_token",
        "id_token",
        "jwt",
        "password",
        "secret",
    }
)
REDACTED: Final = "[redacted]"
#: The loggers that may write a request target (uvicorn's, as every ASGI host using it).
REDACTED_LOGGERS: Final = ("uvicorn.access", "uvicorn.error")

_SEPARATOR = re.compile(r"([&;])")


def _is_secret(name: str) -> bool:
    normal = unquote_plus(name).strip().lower().replace("-", "_")
    return normal.removesuffix("[]") in SECRET_PARAMETERS


def redact_target(target: str) -> str:
    """`/v1/x?token=abc&limit=5` → `/v1/x?token=[redacted]&limit=5`."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    parts = _SEPARATOR.split(query)
    for i in range(0, len(parts), 2):  # the odd ones are the separators
        name = parts[i].partition("=")[0]
        if _is_secret(name):
            parts[i] = f"{name}={REDACTED}"
    return path + sep + "".join(parts)


class RedactSecrets(logging.Filter):
    """Rewrites every request target in a record's arguments (or its message) redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_target(arg) if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        elif not record.args and isinstance(record.msg, str) and "?" in record.msg:
            record.msg = " ".join(redact_target(word) for word in record.msg.split(" "))
        return True


def install_log_redaction() -> None:
    """Put `RedactSecrets` on uvicorn's loggers (once; it survives their handlers changing)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
