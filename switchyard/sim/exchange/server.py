"""Run the simulated exchange: one uvicorn server, every venue behind its prefix.

    uv run python -m switchyard.sim.exchange.server --port 18900          # demo keys
    uv run python -m switchyard.sim.exchange.server --accounts keys.json --ledger fills.jsonl \\
        --enable-faults

Flags default to SWITCHYARD_SIM_EXCHANGE_* variables. ``start_in_subprocess`` starts it in
a child process and returns once it accepts connections (tests, ``switchyard dev``).
"""

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from switchyard.sim.launching import read_ready_port, wait_accepting

from .accounts import load_keys, write_keys
from .demo import ccxt_urls, demo_keys
from .ledger import read_ledger

DEFAULT_PORT: Final = 18900
READY_PREFIX: Final = "SWITCHYARD_SIM_EXCHANGE_READY"
ENV_ACCOUNTS: Final = "SWITCHYARD_SIM_EXCHANGE_ACCOUNTS"
ENV_LEDGER: Final = "SWITCHYARD_SIM_EXCHANGE_LEDGER"
ENV_SEED: Final = "SWITCHYARD_SIM_EXCHANGE_SEED"
ENV_FAULTS: Final = "SWITCHYARD_SIM_EXCHANGE_ENABLE_FAULTS"
DEFAULT_DIR: Final = Path(".switchyard/sim-exchange")


def serve(
    host: str,
    port: int,
    accounts_path: Path,
    ledger_path: Path | None = None,
    *,
    seed: int = 0,
    enable_faults: bool = False,
) -> None:
    """Run the simulator in this process until it is stopped (SIGINT/SIGTERM)."""
    import uvicorn

    from .app import SimApp, Simulator
    from .ledger import Ledger

    ledger = Ledger(ledger_path)
    sim = Simulator.create(
        load_keys(accounts_path), seed=seed, ledger=ledger, faults_enabled=enable_faults
    )
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(SimApp(sim), log_level="warning", access_log=False, lifespan="on")
    print(f"{READY_PREFIX} {host} {sock.getsockname()[1]}", flush=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        ledger.close()
        sock.close()


@dataclass
class SimExchangeProcess:
    """A simulated exchange in a child process; ``stop()`` ends it."""

    process: "subprocess.Popen[str]"
    host: str
    port: int
    accounts_path: Path
    ledger_path: Path | None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def ccxt_urls(self) -> dict[str, dict[str, str]]:
        return ccxt_urls(self.url)

    def ledger(self) -> list[dict[str, Any]]:
        """The ledger's fills so far (empty without a ledger)."""
        return read_ledger(self.ledger_path) if self.ledger_path is not None else []

    def control(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST ``/_sim/<action>`` (needs ``enable_faults=True``); the decoded answer."""
        import httpx

        response = httpx.post(f"{self.url}/_sim/{action}", json=body or {}, timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def inspect(self, action: str) -> dict[str, Any]:
        """GET ``/_sim/<action>`` (needs ``enable_faults=True``); the decoded answer."""
        import httpx

        response = httpx.get(f"{self.url}/_sim/{action}", timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_subprocess(
    accounts_path: Path,
    ledger_path: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    enable_faults: bool = False,
    startup_timeout_s: float = 20.0,
) -> SimExchangeProcess:
    """Start ``python -m switchyard.sim.exchange.server``; return once it accepts clients.

    ``port=0`` lets the server pick a free port, read back from its ready line.
    """
    argv = [sys.executable, "-m", "switchyard.sim.exchange.server"]
    argv += ["--host", host, "--port", str(port), "--accounts", str(accounts_path)]
    argv += ["--seed", str(seed)]
    if ledger_path is not None:
        argv += ["--ledger", str(ledger_path)]
    if enable_faults:
        argv.append("--enable-faults")
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: S603 - fixed argv
    handle = SimExchangeProcess(process, host, port, accounts_path, ledger_path)
    deadline = time.monotonic() + startup_timeout_s
    try:
        handle.port = read_ready_port(process, READY_PREFIX, "simulated exchange", deadline)
        wait_accepting(host, handle.port, process, deadline)
    except BaseException:
        handle.stop()
        raise
    return handle


def write_demo_accounts(path: Path) -> Path:
    """Write the demo keys as an accounts file (what ``switchyard dev`` runs with)."""
    return write_keys(path, demo_keys())


def main(argv: Sequence[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="switchyard sim exchange",
        description=(
            "Simulated Binance spot, Bybit v5, OKX v5 and Coinbase Advanced Trade behind the "
            "real ccxt HTTP calls."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument(
        "--accounts",
        type=Path,
        default=env.get(ENV_ACCOUNTS),
        help=f"accounts JSON (default: demo keys written to {DEFAULT_DIR}/accounts.json)",
    )
    parser.add_argument("--ledger", type=Path, default=env.get(ENV_LEDGER), help="JSONL of fills")
    parser.add_argument("--seed", type=int, default=int(env.get(ENV_SEED, "0")))
    parser.add_argument(
        "--enable-faults",
        action="store_true",
        default=env.get(ENV_FAULTS, "") in ("1", "true"),
        help="answer the /_sim/ control endpoint (loopback clients only)",
    )
    parser.add_argument("--print-demo", action="store_true", help="print the demo keys and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.print_demo:
        from .demo import demo_key_entries

        print(json.dumps(demo_key_entries(), indent=2))
        return 0
    accounts = args.accounts or write_demo_accounts(DEFAULT_DIR / "accounts.json")
    serve(
        args.host,
        args.port,
        Path(accounts),
        args.ledger,
        seed=args.seed,
        enable_faults=args.enable_faults,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
