"""What a job handler of an MT5 lane works with."""

from __future__ import annotations

from dataclasses import dataclass

from functions.core.db import Connection
from worker.journal import Journal
from worker.leases import LeaseClock
from worker.mt5.session import Session


@dataclass(frozen=True, slots=True, kw_only=True)
class Mt5Context:
    conn: Connection
    session: Session
    journal: Journal
    #: The lease of the job being handled: checked before anything is sent.
    job_lease: LeaseClock
    magic: int
    #: Remaining lease needed to send: the call timeout and a margin.
    send_margin_s: float
    verify_interval_s: float
