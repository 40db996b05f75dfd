"""`switchyard dev` as an unlucky operator meets it: crashed children, taken ports.

A child killed with SIGKILL is restarted (a line on stderr, a new pid in dev.json), the
simulated terminal comes back with its positions and goes on numbering tickets, the
read-only demo account says so, and SIGTERM still stops everything. A taken port is
named with the flag that moves it, before anything has started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchyard.db import connect
from tests.helpers import free_port

SIM = "simulated MT5 terminal"


def dev_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SWITCHYARD_ENCRYPTION_KEYS", "SUPABASE_JWT_SECRET"}
    }
    return env | {"SWITCHYARD_DATA_DIR": str(data_dir), **extra}


# -- ports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag", ["--port", "--mt5-port", "--exchange-port", "--auth-port", "--dashboard-port"]
)
def test_a_taken_port_is_named_with_the_flag_that_moves_it_before_anything_starts(
    short_dir: Path, flag: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        flags = ("--port", "--mt5-port", "--exchange-port", "--auth-port", "--dashboard-port")
        ports = {f: free_port() for f in flags}
        ports[flag] = port
        done = subprocess.run(
            [sys.executable, "-m", "switchyard", "dev",
             *(str(part) for pair in ports.items() for part in pair)],
            env=dev_env(short_dir), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"port {port} is in use: pass {flag} to use another" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (short_dir / "pgdata").exists()  # checked before the database was started
    assert not (short_dir / "sim-mt5").exists()


# -- supervision -----------------------------------------------------------------------------


class Dev:
    """`switchyard dev` in a subprocess, its output collected line by line."""

    def __init__(self, data_dir: Path, env: dict[str, str], port: int, mt5_port: int) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "switchyard", "dev", "--port", str(port),
             "--mt5-port", str(mt5_port), "--mt5-login-delay-ms", "20",
             "--exchange-port", str(free_port()), "--auth-port", str(free_port()),
             "--dashboard-port", str(free_port())],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, what: str, done: Callable[[], Any], timeout_s: float = 120) -> Any:
        deadline = time.monotonic() + timeout_s
        while not (result := done()):
            if self.proc.poll() is not None:
                raise AssertionError(f"dev exited waiting for {what}: {self.err[-20:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout_s} s: {self.err[-20:]}")
            time.sleep(0.1)
        return result

    def facts(self) -> dict[str, Any] | None:
        path = self.data_dir / "dev.json"
        return json.loads(path.read_text()) if path.exists() else None

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        code = self.proc.wait(90)
        for reader in self._readers:
            reader.join(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code


def kill_and_wait_for_restart(dev: Dev, child: str) -> tuple[int, int]:
    facts = dev.facts()
    assert facts is not None
    old = facts["pids"][child]
    os.kill(old, signal.SIGKILL)
    dev.wait_for(
        f"the restart line of {child}",
        lambda: any(line.startswith(f"switchyard dev: {child} (pid {old}) was killed by SIGKILL")
                    and "restarting it in" in line for line in dev.err),
    )  # fmt: skip
    new = dev.wait_for(
        f"a new pid of {child} in dev.json",
        lambda: (f := dev.facts()) and f["pids"][child] not in (None, old) and f["pids"][child],
    )
    return old, new


def holds_terminal(db_url: str, address: str, pid: int) -> bool:
    """Whether the worker process `pid` holds the terminal's lease now."""
    with connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            """select 1 from private.terminals t join private.workers w on w.id = t.lease_owner
                where t.address = %s and t.lease_expires_at > now() and w.pid = %s""",
            (address, pid),
        ).fetchone()
    return row is not None


def trade(http: httpx.Client, key: str) -> dict[str, Any]:
    answer = http.post(
        "/v1/trades?wait=30", headers={"Idempotency-Key": key},
        json={"symbol": "EURUSD", "side": "buy", "type": "market", "volume": 0.1},
    )  # fmt: skip
    assert answer.status_code in (201, 202), answer.text
    deadline = time.monotonic() + 60
    body: dict[str, Any] = answer.json()
    while body["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
        body = http.get(f"/v1/trades/{body['id']}").json()
    assert body["status"] == "succeeded", body
    return body


def test_dev_restarts_crashed_children_and_the_terminal_keeps_its_positions(
    short_dir: Path, db_url: str
) -> None:
    env = dev_env(
        short_dir,
        DATABASE_URL=db_url,
        # A killed worker's terminal lease must run out before its successor can trade.
        SWITCHYARD_WORKER_LEASE_S="6",
        SWITCHYARD_WORKER_HEARTBEAT_S="0.5",
        SWITCHYARD_WORKER_POLL_S="0.5",
        SWITCHYARD_MT5_CALL_TIMEOUT_S="2",
        # dev runs exchange lanes too: the lease must outlast one exchange call (+2 s)
        SWITCHYARD_EXCHANGE_CALL_TIMEOUT_S="1",
    )
    dev = Dev(short_dir, env, free_port(), free_port())
    try:
        facts = dev.wait_for("dev.json", dev.facts)
        children = {
            SIM,
            "functions",
            "worker",
            "simulated exchange",
            "local Supabase Auth",
            "dashboard",
        }
        assert set(facts["pids"]) == children
        assert facts["restarts"] == dict.fromkeys(children, 0)
        # The demo account that cannot trade is labelled so, in dev.json and the banner.
        demo = {a["login"]: a for a in facts["mt5_simulator"]["demo_accounts"]}
        read_only = [a for a in demo.values() if not a["trade_allowed"]]
        assert [a["login"] for a in read_only] == [5001004]
        assert read_only[0]["label"].startswith("read-only")
        assert all(a["label"] == "can trade" for a in demo.values() if a["trade_allowed"])
        banner = dev.wait_for("the banner", lambda: [ln for ln in dev.out if "5001004" in ln])
        assert "READ-ONLY" in banner[0]
        assert not any("READ-ONLY" in ln for ln in dev.out if "5001001" in ln)

        token = subprocess.run(
            [sys.executable, "-m", "switchyard", "token", "crash@example.com"],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        ).stdout.strip()  # fmt: skip
        alice = demo[5001001]
        with httpx.Client(base_url=facts["functions_url"], timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as http:  # fmt: skip
            connected = http.post("/v1/accounts?wait=30", json={
                "kind": "mt5", "name": "demo", "login": alice["login"],
                "password": alice["password"], "server": alice["server"],
                "environment": "demo", "make_default": True,
            })  # fmt: skip
            assert connected.status_code == 201, connected.text
            first = trade(http, "before-crashes")["fill"]

            old_sim, new_sim = kill_and_wait_for_restart(dev, SIM)
            old_worker, new_worker = kill_and_wait_for_restart(dev, "worker")
            # The new worker takes the terminal once the killed one's lease has run out; a
            # trade placed before it could outlive its 30 s time-to-live on a loaded machine
            # (then it is cancelled, as it should be: never sent late).
            dev.wait_for(
                "the new worker's lease on the terminal",
                lambda: holds_terminal(db_url, facts["mt5_terminals"][0], new_worker),
            )
            second = trade(http, "after-crashes")["fill"]

        assert int(second["order"]) > int(first["order"])  # no ticket handed out twice
        assert int(second["deal"]) > int(first["deal"])
        state = json.loads(Path(facts["mt5_simulator"]["state"]).read_text())
        (book,) = [a for a in state["accounts"] if a["spec"]["login"] == alice["login"]]
        assert sorted(p["ticket"] for p in book["positions"]) == sorted(
            [int(first["position"]), int(second["position"])]
        )
        journal = Path(facts["mt5_simulator"]["journal"]).read_text().splitlines()
        assert [json.loads(line)["order"] for line in journal] == [
            int(first["order"]),
            int(second["order"]),
        ]
        after = dev.facts()
        assert after is not None
        assert after["pids"][SIM] == new_sim
        assert after["pids"]["worker"] == new_worker
        assert after["restarts"] == dict.fromkeys(children, 0) | {SIM: 1, "worker": 1}
        pids = set(after["pids"].values())
    finally:
        code = dev.stop(signal.SIGTERM)
    assert code == 0, dev.err[-20:]
    assert "switchyard dev stopped" in dev.out
    for pid in (*pids, old_sim, old_worker):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert alice["password"] not in "\n".join(dev.err)


def test_a_child_that_keeps_dying_stops_dev_with_a_clear_message(
    short_dir: Path, db_url: str
) -> None:
    # A lease shorter than two heartbeats: the worker refuses to start, every time.
    env = dev_env(short_dir, DATABASE_URL=db_url, SWITCHYARD_WORKER_LEASE_S="1")
    dev = Dev(short_dir, env, free_port(), free_port())
    code = dev.proc.wait(180)
    dev.stop()
    assert code == 1, dev.err[-20:]
    restarts = [line for line in dev.err if "restarting it in" in line]
    assert len(restarts) == 4
    assert all(line.startswith("switchyard dev: worker (pid") for line in restarts)
    assert all("exited with code 2" in line for line in restarts)
    assert [line.split("restarting it in ")[1] for line in restarts] == ["1 s", "2 s", "4 s", "8 s"]
    (verdict,) = [line for line in dev.err if "not restarted again" in line]
    assert "worker" in verdict
    assert "exited with code 2" in verdict
    assert "died 5 times within 60 s" in verdict
    assert verdict.endswith("stopping the stack")
    assert any("SWITCHYARD_WORKER_HEARTBEAT_S must be under half" in line for line in dev.err)
    assert "switchyard dev stopped" in dev.out
