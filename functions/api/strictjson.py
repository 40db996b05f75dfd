"""JSON bodies with a key given twice are refused (400), never resolved by "the last wins".

    {"symbol": "EURUSD", "side": "buy", "volume": "0.01", "volume": "50"}

Python's `json` (and so FastAPI) keeps the last value: that body traded 50 lots. Every
route of the app is a `StrictJsonRoute`, whose request parses the body it reads with a
hook that refuses a repeated key at any depth, naming the key (never a value).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from functions.api.problems import HttpProblem, Problem
from functions.api.statuses import Outcome

#: How much of an offending key a problem quotes.
_KEY_CHARS = 64


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__("duplicate key")
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeyError(key)
        seen[key] = value
    return seen


def duplicate_key(key: str) -> Problem:
    shown = key if len(key) <= _KEY_CHARS else key[:_KEY_CHARS] + "…"
    return Problem(
        Outcome.DUPLICATE_KEY,
        f"the JSON body has the key {json.dumps(shown)} more than once; send each key once "
        "(nothing was changed)",
        extra={"key": shown},
    )


def loads_strict(body: bytes) -> Any:
    """`json.loads`, but a key repeated in any object raises `DuplicateKeyError`."""
    return json.loads(body, object_pairs_hook=_refuse_duplicates)


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = loads_strict(await self.body())
            except DuplicateKeyError as exc:
                raise HttpProblem(duplicate_key(exc.key)) from None
        return self._json


class StrictJsonRoute(APIRoute):
    """An APIRoute whose handler reads JSON bodies through `StrictJsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler
