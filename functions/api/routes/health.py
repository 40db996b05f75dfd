"""/healthz: no authentication; answers 200 only when the database answers."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from functions.api.deps import RuntimeDep
from functions.api.openapi import documented
from functions.api.scopes import Scope
from functions.api.statuses import Outcome
from functions.api.strictjson import StrictJsonRoute
from switchyard.db import wrap_exceptions
from switchyard.queries import queries

router = APIRouter(tags=["health"], route_class=StrictJsonRoute)

#: A health check must answer quickly, even when the pool is exhausted.
HEALTH_TIMEOUT_S = 2.0


class Health(BaseModel):
    status: str
    database: str
    listening: bool


@router.get(
    "/healthz",
    response_model=Health,
    **documented(
        Outcome.DONE,
        Outcome.BODY_TOO_LARGE,
        Outcome.DATABASE_UNAVAILABLE,
        scope=Scope.PUBLIC,
        say={503: "The database does not answer."},
    ),
    summary="Liveness and database check",
)
async def healthz(runtime: RuntimeDep) -> Health:
    """200 when the database answers; 503 (problem+json) when it does not."""
    with wrap_exceptions():
        async with runtime.pool.connection(timeout=HEALTH_TIMEOUT_S) as conn:
            await conn.execute(queries["api_health"])
    return Health(status="ok", database="ok", listening=runtime.listener.listening)
