"""The worker process: lanes, the listener, the heartbeat and the scheduler, and their stop.

On SIGTERM (or SIGINT) the lanes stop claiming, finish the job in hand (within the
grace period), release their terminals so another worker takes over at once, and the
process leaves. A job still running after the grace keeps its lease, which runs out;
another worker then rescues and reconciles it. Nothing is dropped.

If any of its threads ends on its own (a lane stopped by a bug, the heartbeat, the
listener or the scheduler), the worker stops the same way and exits with
`EXIT_THREAD_DIED`, so that a supervisor restarts it; the dead lane's job is no longer
renewed and is rescued by the next worker once its lease runs out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING

from switchyard.db import connect, wrap_exceptions
from switchyard.errors import DatabaseError
from switchyard.queries import queries
from switchyard.settings import Settings
from worker.config import check_configuration
from worker.heartbeat import Heartbeat
from worker.lane import LaneDeps, LaneThread
from worker.leases import Holdings
from worker.retry import Backoff
from worker.schedule import Scheduler
from worker.venues.mt5.terminal_lane import TerminalLane
from worker.wakeup import Listener, Wakeup

if TYPE_CHECKING:
    from worker.venues.exchange.lane import Exchanges

log = logging.getLogger(__name__)

#: The exit status when a thread of the worker died (0: a clean stop, 1: jobs were left
#: to their leases at the end of the grace period, 2: a configuration error).
EXIT_THREAD_DIED = 3
#: How often the main thread checks that every thread of the worker is alive.
WATCH_S = 0.2


def owner_id(settings: Settings) -> str:
    """Unique per process: name/pid/random, so two processes never share a lease."""
    name = settings.worker_name or socket.gethostname()
    return f"{name}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, settings: Settings, url: str) -> None:
        self.vault = check_configuration(settings)
        self.settings = settings
        self.url = url
        self.owner = owner_id(settings)
        self.stop = threading.Event()
        self.wakeup = Wakeup()
        self.holdings = Holdings()
        backoff = Backoff(settings.worker_retry_base_s, settings.worker_retry_max_s)
        self.scheduler = Scheduler(
            url,
            sync_interval_s=settings.sync_interval_s,
            verify_interval_s=settings.verify_interval_s,
            tick_s=settings.schedule_tick_s,
            stop=self.stop,
            backoff=backoff,
            statement_timeout_s=settings.worker_statement_timeout_s,
        )
        deps = LaneDeps(
            url=url,
            owner=self.owner,
            holdings=self.holdings,
            wakeup=self.wakeup,
            stop=self.stop,
            backoff=backoff,
            lease_s=settings.worker_lease_s,
            poll_s=settings.worker_poll_s,
            statement_timeout_s=settings.worker_statement_timeout_s,
        )
        self.lanes: list[LaneThread] = [
            TerminalLane.configured(
                entry, settings, vault=self.vault, on_verified=self.scheduler.nudge.set, deps=deps
            )
            for entry in settings.mt5_terminals
        ]
        #: Exchange accounts: one loop for all their lanes (worker.venues.exchange.loop).
        self.exchanges: Exchanges | None = None
        if settings.exchange_lanes:
            # Imported only here: ccxt takes seconds to import, and MT5-only workers skip it.
            from worker.venues.exchange.lane import Exchanges

            self.exchanges = Exchanges(settings, self.vault)
            self.lanes += self.exchanges.lanes(deps, self.scheduler.nudge.set)
        self.listener = Listener(url, self.wakeup, self.stop, backoff)
        self.heartbeat = Heartbeat(
            url,
            self.owner,
            self.holdings,
            lease_s=settings.worker_lease_s,
            every_s=settings.worker_heartbeat_s,
            stop=self.stop,
        )

    def register(self) -> None:
        with connect(self.url, autocommit=True) as conn, wrap_exceptions():
            conn.execute(
                queries["register_worker"],
                {
                    "id": self.owner,
                    "name": self.owner.split("/")[0],
                    "pid": os.getpid(),
                    "terminals": list(self.settings.mt5_terminals),
                },
            )
            with conn.cursor() as cur:
                cur.executemany(
                    queries["declare_terminal"],
                    [
                        {
                            "address": lane.address,
                            "servers": None if lane.servers is None else list(lane.servers),
                        }
                        for lane in self.lanes
                        if isinstance(lane, TerminalLane)
                    ],
                )

    def start(self) -> None:
        self.register()
        if not self.settings.mt5_terminals:
            log.warning(
                "no MT5 terminals configured (SWITCHYARD_MT5_TERMINALS): MT5 jobs "
                "wait for a worker that has some"
            )
        if self.exchanges is None:
            log.warning(
                "no exchange lanes (SWITCHYARD_EXCHANGE_LANES=0): exchange jobs wait for a "
                "worker that has some"
            )
        for thread in self.threads():
            thread.start()
        log.info(
            "worker %s started with %d terminal(s)", self.owner, len(self.settings.mt5_terminals)
        )

    def threads(self) -> list[threading.Thread]:
        loop = [self.exchanges.loop] if self.exchanges is not None else []
        return [*loop, self.listener, self.heartbeat, self.scheduler, *self.lanes]

    def dead_threads(self) -> list[str]:
        """Threads that ended although no stop was asked for (each one a bug)."""
        if self.stop.is_set():
            return []
        return [t.name for t in self.threads() if t.ident is not None and not t.is_alive()]

    def serve(self, stopping: threading.Event) -> int:
        """Run until `stopping` is set or a thread dies; then stop. The exit status."""
        while not stopping.wait(WATCH_S):
            dead = self.dead_threads()
            if dead:
                log.critical(
                    "%s ended unexpectedly: the worker stops (exit status %d) so that a "
                    "supervisor restarts it; its jobs are rescued when their leases run out",
                    ", ".join(dead),
                    EXIT_THREAD_DIED,
                )
                self.shutdown()
                return EXIT_THREAD_DIED
        return 0 if self.shutdown() else 1

    def request_stop(self) -> None:
        self.stop.set()
        self.wakeup.ring()
        self.scheduler.nudge.set()

    def shutdown(self) -> bool:
        """Stop and wait for the lanes; True when every lane finished in the grace period."""
        self.request_stop()
        deadline = time.monotonic() + self.settings.worker_shutdown_grace_s
        for lane in self.lanes:
            lane.join(max(deadline - time.monotonic(), 0.0))
        clean = not any(lane.is_alive() for lane in self.lanes)
        if not clean:
            log.warning(
                "jobs still running after the grace period; their leases will run "
                "out and another worker will reconcile them"
            )
        for thread in (self.scheduler, self.listener, self.heartbeat):
            thread.join(2.0)
        if self.exchanges is not None:
            try:
                self.exchanges.close()
            except Exception:  # shutting down: logged, the process leaves anyway
                log.warning("closing the exchange sessions failed", exc_info=True)
        try:
            with connect(self.url, autocommit=True) as conn, wrap_exceptions():
                conn.execute(queries["worker_stopped"], {"id": self.owner})
        except DatabaseError as exc:
            log.warning("could not record the worker's stop: %s", exc)
        return clean
