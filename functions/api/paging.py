"""Keyset pages, newest first: `next` is the URL of the older page.

The cursor is the last item's time and a tiebreak (its id, or a venue's sequence), so
items that share a time (one transaction's jobs, a venue's one-second resolution) are
neither skipped nor repeated at a page's edge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import Query

from functions.api.schemas.common import IsoDateTime

Before = Annotated[
    IsoDateTime | None,
    Query(description="The next page: older than this item time (from `next`)."),
]
BeforeId = Annotated[
    UUID | None,
    Query(description="With `before`: among items of that very time, those of a lower id."),
]


def next_page(path: str, query: dict[str, Any], time: datetime, tiebreak: tuple[str, str]) -> str:
    """The older page after an item of `time` and `tiebreak`, keeping the filters given."""
    kept = {k: str(v) for k, v in query.items() if v is not None}
    return f"{path}?" + urlencode({**kept, "before": time.isoformat(), tiebreak[0]: tiebreak[1]})
