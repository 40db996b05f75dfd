"""Exchange lanes: threads that claim jobs of exchange accounts and run them through the flow.

Every lane serves every exchange; how many there are (`SWITCHYARD_EXCHANGE_LANES`) is how
many accounts are served at once. One account is never served by two lanes at once (a
unique index on running jobs, and the client's lock), so its jobs run serially; their
ccxt calls all run on the one loop (`loop`), sharing markets, sessions and budgets.
"""

from __future__ import annotations

from collections.abc import Callable

from switchyard.settings import Settings
from switchyard.vault import Vault
from worker.lane import LaneDeps, LaneThread
from worker.leases import LeaseClock
from worker.outcome import Outcome
from worker.queue import Job
from worker.trading.dispatch import Flow
from worker.venues.exchange.adapter import ExchangeVenue
from worker.venues.exchange.clients import Clients, ClientSettings
from worker.venues.exchange.exchanges import PROFILES
from worker.venues.exchange.loop import LoopThread


class ExchangeLane(LaneThread):
    #: Every exchange that has a profile (a venue without one is left to a worker that has).
    venues = frozenset(PROFILES)
    noun = "the exchange"

    def __init__(self, name: str, flow: Flow, deps: LaneDeps) -> None:
        super().__init__(name, deps)
        self.flow = flow

    def ready(self) -> bool:
        return True

    def handle(self, job: Job, job_lease: LeaseClock) -> Outcome:
        return self.flow.handle(self._db().conn, job, job_lease)


class Exchanges:
    """The exchange side of one worker process: its loop, its clients, its lanes."""

    def __init__(self, settings: Settings, vault: Vault) -> None:
        self.loop = LoopThread()
        self.clients = Clients(
            self.loop,
            vault,
            ClientSettings(
                api_urls=settings.exchange_api_urls,
                timeout_s=settings.exchange_call_timeout_s,
                max_clients=settings.exchange_sessions_max,
                rate_scale=settings.exchange_rate_scale,
                egress=settings.exchange_egress,
            ),
        )
        self.venue = ExchangeVenue(
            self.clients,
            request_timeout_s=settings.exchange_call_timeout_s,
            allow_withdraw=settings.exchange_allow_withdraw,
        )
        self.count = settings.exchange_lanes
        self.verify_interval_s = settings.verify_interval_s

    def lanes(self, deps: LaneDeps, on_verified: Callable[[], None]) -> list[LaneThread]:
        return [
            ExchangeLane(
                f"exchange-lane[{number}]",
                Flow(self.venue, verify_interval_s=self.verify_interval_s, on_verified=on_verified),
                deps,
            )
            for number in range(1, self.count + 1)
        ]

    def close(self) -> None:
        """After the lanes stopped: close every session, then the loop."""
        if self.loop.is_alive():
            self.clients.close_all()
        self.loop.stop()
