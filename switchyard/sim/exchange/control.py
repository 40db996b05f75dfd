"""``/_sim/...``: the control endpoint no venue has, for tests and ``switchyard dev``.

It is protected twice: it refuses (403) unless the simulator was started with
``--enable-faults``, and it refuses any client that is not on the loopback interface
(the simulator itself binds 127.0.0.1 by default). ``GET /_sim/health`` always answers.

    GET  /_sim/health                      {"ok": true, "faults_enabled": ...}
    GET  /_sim/faults                      the armed faults and the clock skew
    GET  /_sim/leverage                    per account and perpetual: leverage, requests
    POST /_sim/faults  {"kind": "hold", "count": 1, "exchange": "okx", "hold_s": 30}
    POST /_sim/faults  {"reset": true}     disarm everything, clock skew back to 0
    POST /_sim/clock   {"skew_ms": 120000} move the venues' clock for timestamp checks
    POST /_sim/keys/revoke   {"api_key": "...", "exchange": "binance"}   (exchange optional)
    POST /_sim/keys/restore  {"api_key": "..."}
    POST /_sim/prices  {"BTC": "65000", "ETH": null}   pin (or unpin) a mid price
    POST /_sim/sweep                       fill resting limit orders the feed now crosses
    POST /_sim/reset                       back to the accounts file (the ledger is kept)
"""

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from .faults import FaultSpecError, parse_fault
from .venue import json_response, to_decimal

if TYPE_CHECKING:
    from .app import Simulator


class ControlError(ValueError):
    """A control request is malformed."""


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def control(sim: "Simulator", request: Request) -> Response:
    action = request.url.path.removeprefix("/_sim/")
    if (request.method, action) == ("GET", "health"):
        return json_response({"ok": True, "faults_enabled": sim.faults_enabled})
    if not sim.faults_enabled:
        return json_response(
            {"error": "control is off: start the simulator with --enable-faults"}, 403
        )
    if request.client is None or not _loopback(request.client.host):
        return json_response({"error": "control answers loopback clients only"}, 403)
    handler = ACTIONS.get((request.method, action))
    if handler is None:
        return json_response({"error": f"no control action {request.method} /_sim/{action}"}, 404)
    try:
        body = _body(await request.body())
        return json_response(await handler(sim, body))
    except (ControlError, FaultSpecError, ValueError) as exc:
        return json_response({"error": str(exc)}, 400)


def _body(raw: bytes) -> dict[str, Any]:
    body = json.loads(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


async def _faults(sim: "Simulator", body: dict[str, Any]) -> dict[str, Any]:
    return sim.faults.describe()


async def _arm(sim: "Simulator", body: dict[str, Any]) -> dict[str, Any]:
    if body.get("reset"):
        sim.faults.reset()
    else:
        fault = parse_fault(body)
        if fault.exchange is not None and fault.exchange not in sim.venues:
            raise ControlError(f"unknown exchange {fault.exchange!r}")
        sim.faults.arm(fault)
    return sim.faults.describe()


async def _clock(sim: "Simulator", body: dict[str, Any]) -> dict[str, Any]:
    skew = body.get("skew_ms", 0)
    if not isinstance(skew, int) or isinstance(skew, bool):
        raise ControlError("skew_ms must be an integer")
    sim.faults.clock_skew_ms = skew
    return sim.faults.describe()


def _revocation(
    revoked: bool,
) -> Callable[["Simulator", dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def change(sim: "Simulator", body: dict[str, Any]) -> dict[str, Any]:
        api_key, exchange = body.get("api_key"), body.get("exchange")
        if not isinstance(api_key, str) or not api_key:
            raise ControlError("api_key is required")
        changed = sim.keys.set_revoked(api_key, revoked, exchange)
        if not changed:
            raise ControlError("no such key")
        return {"api_key": api_key, "revoked": revoked, "keys": changed}

    return change


async def _prices(sim: "Simulator", body: dict[str, Any]) -> dict[str, Any]:
    for base, raw in body.items():
        price = None if raw is None else to_decimal(raw)
        if raw is not None and price is None:
            raise ControlError(f"{base}: not a price")
        sim.feed.pin(base, price)
    sim.engine.sweep()
    return {"pinned": {base: str(price) for base, price in sim.feed.pinned.items()}}


async def _leverage(sim: "Simulator", body: dict[str, Any]) -> dict[str, Any]:
    return {"accounts": sim.engine.leverage_state()}


async def _sweep(sim: "Simulator", body: dict[str, Any]) -> dict[str, Any]:
    sim.engine.sweep()
    return {"ok": True}


async def _reset(sim: "Simulator", body: dict[str, Any]) -> dict[str, Any]:
    sim.reset()
    return {"ok": True}


Action = Callable[["Simulator", dict[str, Any]], Awaitable[dict[str, Any]]]

ACTIONS: Final[dict[tuple[str, str], Action]] = {
    ("GET", "faults"): _faults,
    ("GET", "leverage"): _leverage,
    ("POST", "faults"): _arm,
    ("POST", "clock"): _clock,
    ("POST", "keys/revoke"): _revocation(True),
    ("POST", "keys/restore"): _revocation(False),
    ("POST", "prices"): _prices,
    ("POST", "sweep"): _sweep,
    ("POST", "reset"): _reset,
}
