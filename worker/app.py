"""The worker process: lanes, the listener, the heartbeat and the scheduler, and their stop.

On SIGTERM (or SIGINT) the lanes stop claiming, finish the job in hand (within the
grace period), release their terminals so another worker takes over at once, and the
process leaves. A job still running after the grace keeps its lease, which runs out;
another worker then rescues and reconciles it. Nothing is dropped.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from functions.core.db import connect, wrap_exceptions
from functions.core.errors import ConfigError, DatabaseError
from functions.core.queries import queries
from functions.core.settings import Settings
from functions.core.vault import KeyRing, Vault
from worker.crashpoints import refuse_in_production
from worker.heartbeat import Heartbeat
from worker.lane import LaneDeps, LaneThread
from worker.leases import Holdings
from worker.mt5.lane import SEND_MARGIN_S, Mt5Lane
from worker.retry import Backoff
from worker.schedule import Scheduler
from worker.unserved import UnservedLane
from worker.wakeup import Listener, Wakeup

log = logging.getLogger(__name__)


def owner_id(settings: Settings) -> str:
    """Unique per process: name/pid/random, so two processes never share a lease."""
    name = settings.worker_name or socket.gethostname()
    return f"{name}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, settings: Settings, url: str) -> None:
        refuse_in_production(settings.environment)
        if settings.worker_heartbeat_s >= settings.worker_lease_s / 2:
            raise ConfigError(
                "SWITCHYARD_WORKER_HEARTBEAT_S must be under half of SWITCHYARD_WORKER_LEASE_S"
            )
        needed_s = settings.mt5_call_timeout_s + SEND_MARGIN_S + 2 * settings.worker_heartbeat_s
        if settings.worker_lease_s <= needed_s:
            raise ConfigError(
                f"SWITCHYARD_WORKER_LEASE_S must exceed {needed_s:g} s: a lease has to outlast "
                "one terminal call (SWITCHYARD_MT5_CALL_TIMEOUT_S) plus two heartbeats"
            )
        keys = settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
        self.vault = Vault(KeyRing.parse(keys))
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
        )
        self.lanes: list[LaneThread] = [
            Mt5Lane(
                address,
                vault=self.vault,
                magic=settings.mt5_magic,
                call_timeout_s=settings.mt5_call_timeout_s,
                login_timeout_s=settings.mt5_login_timeout_s,
                fair_wait_s=settings.worker_fair_wait_s,
                fair_streak=settings.worker_fair_streak,
                verify_interval_s=settings.verify_interval_s,
                on_verified=self.scheduler.nudge.set,
                deps=deps,
            )
            for address in settings.mt5_terminals
        ]
        self.lanes.append(UnservedLane("unserved-lane", deps))
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

    def start(self) -> None:
        self.register()
        if not self.settings.mt5_terminals:
            log.warning(
                "no MT5 terminals configured (SWITCHYARD_MT5_TERMINALS): MT5 jobs "
                "wait for a worker that has some"
            )
        for thread in (self.listener, self.heartbeat, self.scheduler, *self.lanes):
            thread.start()
        log.info(
            "worker %s started with %d terminal(s)", self.owner, len(self.settings.mt5_terminals)
        )

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
        try:
            with connect(self.url, autocommit=True) as conn, wrap_exceptions():
                conn.execute(queries["worker_stopped"], {"id": self.owner})
        except DatabaseError as exc:
            log.warning("could not record the worker's stop: %s", exc)
        return clean
