"""Serve the simulated ``MetaTrader5`` package over mt5linux's own rpyc protocol.

On a real box ``python -m mt5linux`` runs rpyc's classic server (``ThreadedServer`` with
``SlaveService``) next to the terminal, and the Linux client ``mt5linux.MetaTrader5``
sends it code strings such as ``mt5.order_send({...})``. Here the same server runs in a
process whose ``sys.path`` starts with this directory, so ``import MetaTrader5`` finds
the simulator. The only addition to mt5linux's server is a hook that lets the
"drop the connection after a send" fault cut the calling client's socket.

    uv run python -m worker.sim.mt5.server --port 18812          # demo accounts
    uv run python -m worker.sim.mt5.server --accounts a.json --journal j.jsonl

Configuration travels in SWITCHYARD_SIM_MT5_* environment variables (see
``MetaTrader5/_config.py``); the command-line flags default to them.
"""

import argparse
import importlib
import json
import logging
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Final, Self, TypedDict

SIM_ROOT: Final = Path(__file__).resolve().parent
DEMO_SERVER: Final = "Switchyard-Demo"
DEFAULT_PORT: Final = 18812
READY_PREFIX: Final = "SWITCHYARD_SIM_MT5_READY"

ENV_ACCOUNTS: Final = "SWITCHYARD_SIM_MT5_ACCOUNTS"
ENV_JOURNAL: Final = "SWITCHYARD_SIM_MT5_JOURNAL"
ENV_LOGIN_DELAY_MS: Final = "SWITCHYARD_SIM_MT5_LOGIN_DELAY_MS"
ENV_LOGIN_JITTER_MS: Final = "SWITCHYARD_SIM_MT5_LOGIN_JITTER_MS"
ENV_SEED: Final = "SWITCHYARD_SIM_MT5_SEED"
ENV_SYMBOLS: Final = "SWITCHYARD_SIM_MT5_SYMBOLS"
ENV_FROZEN_TIME: Final = "SWITCHYARD_SIM_MT5_FROZEN_TIME"
_ENV_PREFIX: Final = "SWITCHYARD_SIM_MT5_"


class SimAccount(TypedDict, total=False):
    login: int
    password: str
    server: str
    balance: float
    currency: str
    leverage: int
    name: str
    trade_allowed: bool


def _demo(
    login: int, name: str, balance: float, currency: str, leverage: int, trade_allowed: bool = True
) -> SimAccount:
    password = f"{name.split()[0].lower()}-demo-pass"
    return SimAccount(
        login=login, password=password, server=DEMO_SERVER, balance=balance,
        currency=currency, leverage=leverage, name=name, trade_allowed=trade_allowed,
    )  # fmt: skip


#: Demo accounts for local runs (passwords "alice-demo-pass" etc.: simulator-only).
DEMO_ACCOUNTS: Final[tuple[SimAccount, ...]] = (
    _demo(5001001, "Alice Demo", 10_000.0, "USD", 100),
    _demo(5001002, "Bob Demo", 25_000.0, "EUR", 30),
    _demo(5001003, "Carol Small Demo", 200.0, "USD", 50),
    _demo(5001004, "Dave Read-Only Demo", 5_000.0, "USD", 100, trade_allowed=False),
)


def write_accounts(path: Path, accounts: Sequence[SimAccount] = DEMO_ACCOUNTS) -> Path:
    """Write ``accounts`` (default: the demo accounts) as the JSON file the server reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(accounts), indent=2) + "\n", encoding="utf-8")
    return path


def sim_environment(
    accounts_path: Path,
    journal_path: Path | None = None,
    *,
    symbols: Sequence[str] | None = None,
    login_delay_s: float = 0.0,
    login_jitter_s: float = 0.0,
    seed: int = 0,
    frozen_time_s: float | None = None,
) -> dict[str, str]:
    """The SWITCHYARD_SIM_MT5_* variables describing one simulated terminal."""
    env = {
        ENV_ACCOUNTS: str(accounts_path),
        ENV_LOGIN_DELAY_MS: str(round(login_delay_s * 1000)),
        ENV_LOGIN_JITTER_MS: str(round(login_jitter_s * 1000)),
        ENV_SEED: str(seed),
    }
    if journal_path is not None:
        env[ENV_JOURNAL] = str(journal_path)
    if symbols:
        env[ENV_SYMBOLS] = ",".join(symbols)
    if frozen_time_s is not None:
        env[ENV_FROZEN_TIME] = repr(float(frozen_time_s))
    return env


def apply_environment(target: MutableMapping[str, str], sim_env: dict[str, str]) -> None:
    """Replace every SWITCHYARD_SIM_MT5_* variable of ``target`` by ``sim_env``'s."""
    for name in [n for n in target if n.startswith(_ENV_PREFIX)]:
        del target[name]
    target.update(sim_env)


def import_simulated_mt5() -> ModuleType:
    """Put the simulator first on ``sys.path`` and import it as ``MetaTrader5``."""
    root = str(SIM_ROOT)
    if sys.path[:1] != [root]:
        sys.path.insert(0, root)
    module = importlib.import_module("MetaTrader5")
    origin = Path(module.__file__ or "").resolve().parent.parent
    if origin != SIM_ROOT:
        raise RuntimeError(f"'MetaTrader5' resolved to {origin}, not the simulator in {SIM_ROOT}")
    return module


def _cut(conn: Any) -> None:
    """Shut the client's socket under rpyc's feet: the pending reply can never leave."""
    sock: socket.socket = conn._channel.stream.sock
    sock.shutdown(socket.SHUT_RDWR)


def _service_class(bind: Callable[[Callable[[], None] | None], None]) -> Any:
    from rpyc.core import SlaveService

    class SimSlaveService(SlaveService):  # type: ignore[misc]
        """mt5linux's SlaveService, plus the hook the connection-drop fault uses."""

        __slots__ = ()

        def on_connect(self, conn: Any) -> None:
            super().on_connect(conn)
            # ThreadedServer serves each connection on the thread that connected it.
            bind(lambda: _cut(conn))

        def on_disconnect(self, conn: Any) -> None:
            bind(None)
            super().on_disconnect(conn)

    return SimSlaveService


def serve(
    host: str,
    port: int,
    accounts_path: Path,
    journal_path: Path | None = None,
    *,
    symbols: Sequence[str] | None = None,
    login_delay_s: float = 0.0,
    login_jitter_s: float = 0.0,
    seed: int = 0,
    frozen_time_s: float | None = None,
) -> None:
    """Run the simulated terminal in this process until it is killed."""
    from rpyc.utils.server import ThreadedServer

    apply_environment(
        os.environ,
        sim_environment(
            accounts_path,
            journal_path,
            symbols=symbols,
            login_delay_s=login_delay_s,
            login_jitter_s=login_jitter_s,
            seed=seed,
            frozen_time_s=frozen_time_s,
        ),
    )
    mt5 = import_simulated_mt5()
    mt5._sim.configure_from_env()
    # Built exactly as mt5linux.__main__.ClassicServer._serve_mode builds it.
    server = ThreadedServer(
        _service_class(mt5._sim.bind_connection_dropper),
        hostname=host,
        port=port,
        reuse_addr=True,
        ipv6=False,
        authenticator=None,
        registrar=None,
        auto_register=False,
    )
    print(f"{READY_PREFIX} {server.host} {server.port}", flush=True)
    server.start()


@dataclass
class SimTerminalProcess:
    """A simulated terminal running in a child process; ``stop()`` ends it."""

    process: "subprocess.Popen[str]"
    host: str
    port: int
    accounts_path: Path
    journal_path: Path | None

    def control(self) -> Any:
        """A fresh classic rpyc connection; ``.modules.MetaTrader5._sim`` is the control API."""
        import rpyc

        return rpyc.classic.connect(self.host, self.port)

    def journal(self) -> list[dict[str, Any]]:
        """The journal's records so far (empty without a journal)."""
        if self.journal_path is None or not self.journal_path.exists():
            return []
        lines = self.journal_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

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
    journal_path: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    symbols: Sequence[str] | None = None,
    login_delay_s: float = 0.0,
    login_jitter_s: float = 0.0,
    seed: int = 0,
    frozen_time_s: float | None = None,
    startup_timeout_s: float = 20.0,
) -> SimTerminalProcess:
    """Start ``python -m worker.sim.mt5.server`` and return once its port accepts clients.

    ``port=0`` lets the server pick a free port, read back from its ready line.
    """
    env = dict(os.environ)
    apply_environment(
        env,
        sim_environment(
            accounts_path,
            journal_path,
            symbols=symbols,
            login_delay_s=login_delay_s,
            login_jitter_s=login_jitter_s,
            seed=seed,
            frozen_time_s=frozen_time_s,
        ),
    )
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
        [sys.executable, "-m", "worker.sim.mt5.server", "--host", host, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    handle = SimTerminalProcess(process, host, port, accounts_path, journal_path)
    deadline = time.monotonic() + startup_timeout_s
    try:
        handle.port = _read_ready_port(process, deadline)
        _wait_accepting(host, handle.port, process, deadline)
    except BaseException:
        handle.stop()
        raise
    return handle


def _read_ready_port(process: "subprocess.Popen[str]", deadline: float) -> int:
    assert process.stdout is not None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            raise RuntimeError(f"simulated MT5 terminal did not start (exit {process.poll()})")
        readable, _, _ = select.select([process.stdout], [], [], remaining)
        line = process.stdout.readline() if readable else ""
        if line.startswith(READY_PREFIX):
            return int(line.split()[2])


def _wait_accepting(
    host: str, port: int, process: "subprocess.Popen[str]", deadline: float
) -> None:
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.02)


def _env_float(name: str, scale: float = 1.0) -> float:
    raw = os.environ.get(name)
    return float(raw) / scale if raw else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="switchyard sim mt5", description="Simulated MT5 terminal behind mt5linux/rpyc."
    )
    env = os.environ
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument(
        "--accounts",
        type=Path,
        default=env.get(ENV_ACCOUNTS),
        help="accounts JSON (default: demo accounts written under .switchyard/sim-mt5/)",
    )
    parser.add_argument("--journal", type=Path, default=env.get(ENV_JOURNAL))
    parser.add_argument("--symbols", default=env.get(ENV_SYMBOLS), help="comma-separated")
    parser.add_argument("--login-delay-ms", type=float, default=_env_float(ENV_LOGIN_DELAY_MS))
    parser.add_argument("--login-jitter-ms", type=float, default=_env_float(ENV_LOGIN_JITTER_MS))
    parser.add_argument("--seed", type=int, default=int(env.get(ENV_SEED, "0")))
    parser.add_argument("--frozen-time", type=float, default=env.get(ENV_FROZEN_TIME))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    accounts = args.accounts or write_accounts(Path(".switchyard/sim-mt5/accounts.json"))
    serve(
        args.host,
        args.port,
        Path(accounts),
        args.journal,
        symbols=args.symbols.split(",") if args.symbols else None,
        login_delay_s=args.login_delay_ms / 1000,
        login_jitter_s=args.login_jitter_ms / 1000,
        seed=args.seed,
        frozen_time_s=args.frozen_time,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
