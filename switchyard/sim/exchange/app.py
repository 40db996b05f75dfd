"""The simulator's state and its one ASGI app: every venue behind its path prefix.

``/binance/...``, ``/bybit/...``, ``/okx/...`` and ``/coinbase/...`` reach the venue modules
with the prefix stripped; ``/_sim/...`` is the control endpoint (``control.py``). Before a
venue sees a request, resting limit orders are swept against the feed and faults armed for
"before" fire; after it answered, the after-execution faults (hold, drop) fire.
"""

import asyncio
import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .accounts import ApiKey, KeyRing
from .binance import Binance
from .bybit import Bybit
from .coinbase import Coinbase
from .control import control
from .engine import Engine
from .faults import Armed, FaultKind, Faults
from .instruments import Instrument, Kind, find
from .ledger import Ledger
from .okx import Okx
from .prices import Clock, PriceFeed
from .venue import Reply, Venue, VenueRequest, gateway_error, json_response

log = logging.getLogger("switchyard.sim.exchange")

VENUES: Final[tuple[type, ...]] = (Binance, Bybit, Okx, Coinbase)


@dataclass
class Simulator:
    """Everything one simulator run keeps: keys, the engine, faults, the clock and the feed."""

    initial_keys: list[ApiKey]
    clock: Clock
    feed: PriceFeed
    ledger: Ledger
    faults_enabled: bool = False
    venues: dict[str, Venue] = field(default_factory=dict)
    keys: KeyRing = field(default_factory=KeyRing)
    faults: Faults = field(default_factory=Faults)
    engine: Engine = field(init=False)

    @classmethod
    def create(
        cls,
        keys: Iterable[ApiKey],
        *,
        seed: int = 0,
        ledger: Ledger | None = None,
        frozen_ms: int | None = None,
        faults_enabled: bool = False,
    ) -> "Simulator":
        clock = Clock(frozen_ms)
        venues: dict[str, Venue] = {venue.name: venue for venue in (v() for v in VENUES)}
        sim = cls(
            initial_keys=list(keys),
            clock=clock,
            feed=PriceFeed(seed, clock),
            ledger=ledger or Ledger(None),
            faults_enabled=faults_enabled,
            venues=venues,
        )
        sim.reset()
        return sim

    def reset(self) -> None:
        """Back to the accounts file: balances, no orders, no faults, no pinned prices."""
        sequence = getattr(getattr(self, "engine", None), "_sequence", 0)
        fresh = [dataclasses.replace(key, revoked=False) for key in self.initial_keys]
        self.keys = KeyRing.of(fresh)
        self.engine = Engine(self.feed, self.clock, self.ledger)
        self.engine._sequence = sequence  # ids stay unique across resets, as the ledger needs
        for name, venue in self.venues.items():
            self.engine.order_ids[name] = venue.order_id
            self.engine.trade_ids[name] = venue.trade_id
        for key in fresh:
            self.engine.open_account(key)
        self.faults.reset()
        self.feed.pinned.clear()

    def venue_now_ms(self) -> int:
        return self.clock.now_ms() + self.faults.clock_skew_ms

    def instrument(self, exchange: str, kind: Kind, instrument_id: str) -> Instrument | None:
        return find(exchange, kind, instrument_id)


class SimApp:
    """The ASGI application (a plain callable: a dropped connection needs the raw server)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.dispatch(request, receive)
        if response is not None:
            await response(scope, receive, send)

    async def dispatch(self, request: Request, receive: Receive) -> Response | None:
        path = request.url.path
        if path.startswith("/_sim/"):
            return await control(self.sim, request)
        name, _, rest = path.lstrip("/").partition("/")
        venue = self.sim.venues.get(name)
        if venue is None:
            return json_response({"error": f"no venue at /{name}"}, 404)
        inner = "/" + rest
        body = await request.body()
        self.sim.engine.sweep()
        places = venue.places_order(request.method, inner)
        before = self.sim.faults.take(venue.name, places, after_execution=False)
        client_ip = request.client.host if request.client else ""
        if before is not None:
            log.info("fault %s answers %s %s", before.kind, request.method, path)
            return _fault_answer(venue, before, client_ip)
        venue_request = VenueRequest(
            method=request.method,
            path=inner,
            query=request.scope["query_string"].decode("latin-1"),
            body=body,
            headers=request.headers,
            client_ip=client_ip,
            core=self.sim,
        )
        try:
            response = await venue.handle(venue_request)
        except Reply as reply:
            response = reply.response
        after = self.sim.faults.take(venue.name, venue_request.placed_order, after_execution=True)
        if after is None:
            return response
        log.info("fault %s after %s %s", after.kind, request.method, path)
        if after.kind is FaultKind.DROP and _abort_connection(receive):
            return None
        await _hold(receive, after.hold_s)
        return response


def _fault_answer(venue: Venue, fault: Armed, client_ip: str) -> Response:
    if fault.kind in (FaultKind.RATE_LIMIT, FaultKind.IP_BAN):
        return venue.rate_limited(fault.kind, client_ip)
    if fault.kind is FaultKind.MAINTENANCE:
        return venue.maintenance()
    return gateway_error(502)


async def _hold(receive: Receive, seconds: float) -> None:
    """Wait until the client hangs up (it timed out) or ``seconds`` pass."""
    try:
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        log.warning("a held answer outlived its hold of %ss; sending it late", seconds)


def _abort_connection(receive: Receive) -> bool:
    """Cut the TCP connection under uvicorn's feet (its request cycle owns the transport)."""
    cycle: Any = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        log.warning("cannot reach the connection to drop it; holding the answer instead")
        return False
    transport.abort()
    return True


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
