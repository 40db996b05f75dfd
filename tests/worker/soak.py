"""The soak: many orders from many users on two simulated terminals, under chaos, proven.

Used by `tests/worker/test_soak.py` (small) and `bench/soak.py` (>= 10,000 orders from
>= 100 users). Everything is real: `python -m worker` processes SIGKILLed at random
moments and started again, simulated terminals with random login delays and injected
faults (refused logins, hung logins, logins that land on another account), the database.

Each terminal is installed for one broker server (`Soak-A`, `Soak-B`: half the users
each), as real terminals are; the two simulators do not share a broker's books, so an
order sent through one could not be looked up through the other, which a real broker's
servers would allow. At the end the invariants are asserted, not just printed:

* every job is terminal (succeeded, failed or cancelled);
* the simulators' journals (one record per executed trade, with the login it ran under)
  hold each succeeded order exactly once, under its owner's login, on its server's
  terminal, with the ticket our journal (`public.orders`) recorded, and nothing else: 0
  orders on a wrong account, 0 duplicates, nothing executed that we do not know of.
"""

from __future__ import annotations

import random
import signal
import statistics
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.types.json import Jsonb

from switchyard.db import Connection
from switchyard.domain import client_order_id
from switchyard.settings import Settings
from switchyard.sim.mt5.server import (
    SimAccount,
    SimTerminalProcess,
    start_in_subprocess,
    write_accounts,
)
from switchyard.tokens import ensure_user
from switchyard.vault import Vault
from tests.worker.helpers import set_faults, spawn_worker

SERVERS = ("Soak-A", "Soak-B")
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True, kw_only=True)
class SoakPlan:
    users: int
    orders: int
    #: Worker processes running at once (each lists both terminals: one holds them, the
    #: other stands by and takes them over when the first is killed).
    workers: int = 2
    #: SIGKILL one worker (and start another) this many times, about this often.
    kills: int = 3
    kill_every_s: float = 4.0
    #: Orders enqueued per burst, and the pause between bursts.
    burst: int = 50
    burst_gap_s: float = 0.05
    login_delay_s: float = 0.02
    login_jitter_s: float = 0.08
    #: Arm a fault on a random terminal about this often.
    fault_every_s: float = 0.7
    seed: int = 13
    #: Give up (and fail) if the jobs are not all terminal after this long.
    timeout_s: float = 600.0


@dataclass
class SoakReport:
    orders: int = 0
    users: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    kills: int = 0
    worker_starts: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    rescued_attempts: int = 0
    executed: int = 0
    wrong_account: int = 0
    duplicates: int = 0
    unknown_executions: int = 0
    wall_s: float = 0.0
    latency_p50_s: float = 0.0
    latency_p99_s: float = 0.0
    failure_reasons: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        return [
            f"orders {self.orders} from {self.users} users on 2 terminals in {self.wall_s:.1f} s"
            f" ({self.orders / self.wall_s:.0f} orders/s)",
            f"  succeeded {self.succeeded}  failed {self.failed}  cancelled {self.cancelled}",
            f"  workers killed {self.kills}, started {self.worker_starts}; "
            f"faults injected {dict(self.faults)}",
            f"  jobs retried {self.retried}; jobs taken over from a killed worker "
            f"{self.rescued_attempts}",
            f"  executed at the terminals {self.executed}: wrong account {self.wrong_account},"
            f" duplicates {self.duplicates}, unknown to our journal {self.unknown_executions}",
            f"  enqueue -> finished p50 {self.latency_p50_s:.2f} s, p99 {self.latency_p99_s:.2f} s",
            *(f"  failed: {n} x {reason}" for reason, n in self.failure_reasons.most_common(5)),
        ]


@dataclass(frozen=True)
class SoakAccount:
    user_id: uuid.UUID
    account_id: uuid.UUID
    login: int
    server: str


def sim_accounts(users: int) -> list[SimAccount]:
    return [
        {
            "login": 70000 + i,
            "password": f"soak-{i}-Pw!",
            "server": SERVERS[i % 2],
            "balance": 1e9,
            "currency": "USD",
            "leverage": 100,
            "name": f"Soak {i}",
        }
        for i in range(users)
    ]


def start_terminals(plan: SoakPlan, workdir: Path) -> list[SimTerminalProcess]:
    """One simulated terminal per server, each knowing that server's accounts only."""
    everyone = sim_accounts(plan.users)
    sims = []
    for n, server in enumerate(SERVERS):
        mine = [a for a in everyone if a["server"] == server]
        path = write_accounts(workdir / f"soak-accounts-{n}.json", mine)
        sims.append(
            start_in_subprocess(
                path,
                workdir / f"soak-journal-{n}.jsonl",
                login_delay_s=plan.login_delay_s,
                login_jitter_s=plan.login_jitter_s,
                seed=plan.seed + n,
                state_path=workdir / f"soak-sim-{n}" / "state.json",
            )
        )
    return sims


def terminals_setting(sims: list[SimTerminalProcess]) -> tuple[str, ...]:
    """SWITCHYARD_MT5_TERMINALS entries: each terminal serves its server only."""
    return tuple(f"{s.host}:{s.port}={server}" for s, server in zip(sims, SERVERS, strict=True))


def add_accounts(db: Connection, vault: Vault, plan: SoakPlan) -> list[SoakAccount]:
    accounts = []
    for spec in sim_accounts(plan.users):
        user_id = ensure_user(db, f"soak{spec['login']}-{uuid.uuid4().hex[:6]}@example.com")
        row = db.execute(
            "insert into public.accounts (user_id, kind, venue, name, login, server,"
            " environment, status, verified_at) values (%s, 'mt5', 'mt5', %s, %s, %s, 'demo',"
            " 'verified', now()) returning id",
            (user_id, spec["name"], str(spec["login"]), spec["server"]),
        ).fetchone()
        assert row is not None
        sealed = vault.seal(row["id"], {"password": spec["password"]})
        db.execute(
            "insert into private.account_secrets (account_id, ciphertext, key_id)"
            " values (%s, %s, %s)",
            (row["id"], sealed.ciphertext, sealed.key_id),
        )
        accounts.append(SoakAccount(user_id, row["id"], spec["login"], spec["server"]))
    return accounts


class _Workers:
    def __init__(self, settings: Settings, log_path: Path, report: SoakReport) -> None:
        self.settings = settings
        self.log_path = log_path
        self.report = report
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        self.processes.append(spawn_worker(self.settings, self.log_path))
        self.report.worker_starts += 1

    def check(self) -> None:
        """None of them may have ended on its own."""
        for process in self.processes:
            code = process.poll()
            assert code is None, f"a worker exited ({code}): {self.log_path.read_text()[-3000:]}"

    def kill_one(self, rng: random.Random) -> None:
        victim = rng.choice(self.processes)
        victim.kill()
        victim.wait(10)
        self.processes.remove(victim)
        self.report.kills += 1

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _armed(sim: SimTerminalProcess) -> bool:
    """Whether a fault armed earlier is still waiting for a login."""
    conn = sim.control()
    try:
        faults = dict(conn.modules.MetaTrader5._sim.faults())
    finally:
        conn.close()
    waiting = ("fail_next_logins", "hang_next_login_s", "wrong_account_next_logins")
    return any(faults.get(name) for name in waiting)


def _arm_fault(sims: list[SimTerminalProcess], rng: random.Random, report: SoakReport) -> None:
    # One at a time per terminal: two refusals in a row would be the terminal's verdict
    # on the password (the account is then disabled, as it must be), not a glitch.
    kind = rng.choice(("refused", "refused", "hung", "wrong_account"))
    sim = rng.choice(sims)
    if _armed(sim):
        return
    if kind == "refused":  # refused once: the lane tries once more, and it works
        set_faults(sim, fail_next_logins=1)
    elif kind == "hung":  # longer than the login timeout: the job is retried
        set_faults(sim, hang_next_login_s=2.5)
    else:  # "logged in", but on another account: nothing may be sent
        set_faults(sim, wrong_account_next_logins=1)
    report.faults[kind] += 1


def _pending(db: Connection) -> int:
    row = db.execute(
        "select count(*) as n from public.jobs where kind = 'order' and finished_at is null"
    ).fetchone()
    assert row is not None
    return int(row["n"])


def run_soak(
    db: Connection,
    settings: Settings,
    sims: list[SimTerminalProcess],
    accounts: list[SoakAccount],
    plan: SoakPlan,
    log_path: Path,
) -> SoakReport:
    """Enqueue, kill, inject, wait; then assert the invariants. The figures."""
    rng = random.Random(plan.seed)
    report = SoakReport(orders=plan.orders, users=len(accounts))
    workers = _Workers(settings, log_path, report)
    jobs: dict[uuid.UUID, SoakAccount] = {}
    started = time.monotonic()
    next_kill = started + plan.kill_every_s
    next_fault = started + plan.fault_every_s
    try:
        for _ in range(plan.workers):
            workers.start()
        while True:
            workers.check()
            now = time.monotonic()
            if len(jobs) < plan.orders:
                _enqueue_burst(db, rng, accounts, jobs, min(plan.burst, plan.orders - len(jobs)))
            elif not _pending(db):
                break
            if now >= next_kill and report.kills < plan.kills:
                workers.kill_one(rng)
                workers.start()
                next_kill = now + rng.uniform(0.5, 1.5) * plan.kill_every_s
            if now >= next_fault:
                _arm_fault(sims, rng, report)
                next_fault = now + rng.uniform(0.5, 1.5) * plan.fault_every_s
            assert now - started < plan.timeout_s, f"{_pending(db)} orders not finished"
            time.sleep(plan.burst_gap_s if len(jobs) < plan.orders else 0.2)
        report.wall_s = time.monotonic() - started
    finally:
        workers.stop()
    for sim in sims:
        conn = sim.control()
        try:
            conn.modules.MetaTrader5._sim.clear_faults()
        finally:
            conn.close()
    _check(db, sims, jobs, report)
    text = log_path.read_text()
    report.rescued_attempts = text.count("rescued from an expired lease")
    passwords = [a["password"] for a in sim_accounts(plan.users)]
    assert not [p for p in passwords if p in text], "a password reached the workers' log"
    return report


def _enqueue_burst(
    db: Connection,
    rng: random.Random,
    accounts: list[SoakAccount],
    jobs: dict[uuid.UUID, SoakAccount],
    n: int,
) -> None:
    # Bursts favour a few users, as real traffic does (a signal, an active trader).
    hot = rng.sample(accounts, k=min(5, len(accounts)))
    with db.transaction():
        for _ in range(n):
            account = rng.choice(hot) if rng.random() < 0.6 else rng.choice(accounts)
            side = rng.choice(("buy", "sell"))
            row = db.execute(
                "insert into public.jobs (user_id, account_id, kind, payload)"
                " values (%s, %s, 'order', %s) returning id",
                (
                    account.user_id,
                    account.account_id,
                    Jsonb({"symbol": "EURUSD", "side": side, "volume": "0.01"}),
                ),
            ).fetchone()
            assert row is not None
            jobs[row["id"]] = account


def _check(
    db: Connection,
    sims: list[SimTerminalProcess],
    jobs: dict[uuid.UUID, SoakAccount],
    report: SoakReport,
) -> None:
    rows = db.execute(
        "select j.id, j.status, j.attempts, j.error, o.venue_order_id, o.status as journal,"
        " extract(epoch from j.finished_at - j.created_at)::float8 as latency_s"
        " from public.jobs j left join public.orders o on o.job_id = j.id"
        " where j.id = any(%s)",
        (list(jobs),),
    ).fetchall()
    by_id = {r["id"]: r for r in rows}
    assert len(by_id) == len(jobs) == len(rows), "a job is missing, or journalled twice"
    statuses = Counter(r["status"] for r in rows)
    assert set(statuses) <= set(TERMINAL), f"jobs not terminal: {statuses}"
    report.succeeded, report.failed = statuses["succeeded"], statuses["failed"]
    report.cancelled = statuses["cancelled"]
    report.retried = sum(1 for r in rows if r["attempts"] > 1)
    report.failure_reasons = Counter(
        r["error"]["message"][:90] for r in rows if r["status"] != "succeeded"
    )
    latencies = sorted(r["latency_s"] for r in rows)
    report.latency_p50_s = statistics.median(latencies)
    report.latency_p99_s = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]

    owner = {client_order_id(job_id): account for job_id, account in jobs.items()}
    ticket = {client_order_id(r["id"]): r["venue_order_id"] for r in rows}
    succeeded = {client_order_id(r["id"]) for r in rows if r["status"] == "succeeded"}
    seen: Counter[str] = Counter()
    for sim, server in zip(sims, SERVERS, strict=True):
        for record in sim.journal():
            report.executed += 1
            coid = record["comment"]
            seen[coid] += 1
            account = owner.get(coid)
            if account is None or coid not in succeeded:
                report.unknown_executions += 1
                continue
            if (record["login"], record["server"]) != (account.login, account.server):
                report.wrong_account += 1
            assert server == account.server
            assert str(record["order"]) == str(ticket[coid]), (coid, record, ticket[coid])
    report.duplicates = sum(n - 1 for n in seen.values() if n > 1)
    assert report.wrong_account == 0, "an order ran on another account"
    assert report.duplicates == 0, f"orders executed twice: {seen.most_common(3)}"
    assert report.unknown_executions == 0, "an execution that no succeeded job accounts for"
    assert set(seen) == succeeded, "a succeeded order that the terminal never executed"
