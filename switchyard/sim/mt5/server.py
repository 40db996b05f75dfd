"""Serve the simulated ``MetaTrader5`` package over mt5linux's own rpyc protocol.

On a real box ``python -m mt5linux`` runs rpyc's classic server (``ThreadedServer`` with
``SlaveService``) next to the terminal, and the Linux client ``mt5linux.MetaTrader5``
sends it code strings such as ``mt5.order_send({...})``. Here the same server runs in a
process whose ``sys.path`` starts with this directory, so ``import MetaTrader5`` finds
the simulator. The only addition to mt5linux's server is a hook that lets the
"drop the connection after a send" fault cut the calling client's socket.

    uv run python -m switchyard.sim.mt5.server --port 18812          # demo accounts
    uv run python -m switchyard.sim.mt5.server --accounts a.json --journal j.jsonl

Configuration travels in SWITCHYARD_SIM_MT5_* environment variables (see
``MetaTrader5/_config.py``); the command-line flags default to them. The terminal keeps
its state (accounts, positions, orders, history, tickets, the logged-in account) in
``<data dir>/state.json`` and picks it up again when restarted (``--no-state``: memory
only).

rpyc's classic server runs any code a client sends it, with no authentication: this
one listens on loopback only, and another address needs ``--allow-non-loopback``
(and prints a warning).
"""

import argparse
import importlib
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from switchyard.sim.mt5.launch import SimTerminalProcess, command, start_in_subprocess
from switchyard.sim.mt5.options import (
    ALLOW_NON_LOOPBACK_FLAG,
    DEFAULT_PORT,
    DEMO_ACCOUNTS,
    DEMO_SERVER,
    ENV_ACCOUNTS,
    ENV_FROZEN_TIME,
    ENV_JOURNAL,
    ENV_LOGIN_DELAY_MS,
    ENV_LOGIN_JITTER_MS,
    ENV_SEED,
    ENV_STATE,
    ENV_SYMBOLS,
    READY_PREFIX,
    SimAccount,
    apply_environment,
    sim_environment,
    write_accounts,
)

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_SERVER",
    "ENV_ACCOUNTS",
    "ENV_FROZEN_TIME",
    "ENV_JOURNAL",
    "ENV_LOGIN_DELAY_MS",
    "ENV_LOGIN_JITTER_MS",
    "ENV_SEED",
    "ENV_STATE",
    "ENV_SYMBOLS",
    "NonLoopbackError",
    "SimAccount",
    "SimStartError",
    "SimTerminalProcess",
    "command",
    "main",
    "serve",
    "start_in_subprocess",
    "write_accounts",
]

SIM_ROOT: Final = Path(__file__).resolve().parent


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


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SimStartError(RuntimeError):
    """The simulated terminal cannot start; the message says why and what to do."""


class NonLoopbackError(SimStartError):
    """Listening beyond loopback was asked for without ``--allow-non-loopback``."""


def check_listen_address(host: str, *, allow_non_loopback: bool) -> str | None:
    """Refuse a non-loopback address unless allowed; the warning to print when allowed."""
    if is_loopback(host):
        return None
    danger = (
        "rpyc's classic server runs any Python code a client sends, without "
        "authentication: whoever reaches this port controls this process and everything "
        "its user can touch"
    )
    if not allow_non_loopback:
        raise NonLoopbackError(
            f"refusing to listen on {host}: it is not a loopback address, and {danger}. "
            f"Use 127.0.0.1 (the default), or pass {ALLOW_NON_LOOPBACK_FLAG} on a private "
            "network you trust."
        )
    return (
        f"WARNING: the simulated MT5 terminal listens on {host}, which is not a loopback "
        f"address; {danger}."
    )


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
    state_path: Path | None = None,
    allow_non_loopback: bool = False,
) -> None:
    """Run the simulated terminal in this process until it is killed."""
    from rpyc.utils.server import ThreadedServer

    warning = check_listen_address(host, allow_non_loopback=allow_non_loopback)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
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
            state_path=state_path,
        ),
    )
    mt5 = import_simulated_mt5()
    try:
        mt5._sim.configure_from_env()
    except mt5._persist.StateError as exc:
        raise SimStartError(str(exc)) from exc
    # Built exactly as mt5linux.__main__.ClassicServer._serve_mode builds it.
    try:
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
    except OSError as exc:
        raise SimStartError(
            f"cannot listen on {host}:{port} ({exc.strerror}): pass --port to use another"
        ) from exc
    print(f"{READY_PREFIX} {server.host} {server.port}", flush=True)
    server.start()


def _env_float(name: str, scale: float = 1.0) -> float:
    raw = os.environ.get(name)
    return float(raw) / scale if raw else 0.0


def default_data_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$SWITCHYARD_DATA_DIR/sim-mt5`` (``.switchyard/sim-mt5`` by default)."""
    return Path(env.get("SWITCHYARD_DATA_DIR") or ".switchyard") / "sim-mt5"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="switchyard sim mt5", description="Simulated MT5 terminal behind mt5linux/rpyc."
    )
    env = os.environ
    parser.add_argument("--host", default="127.0.0.1", help="loopback unless allowed otherwise")
    parser.add_argument(
        ALLOW_NON_LOOPBACK_FLAG,
        action="store_true",
        help="listen on a non-loopback --host (anyone who reaches the port can run code here)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="where the demo accounts and the state file live (default: "
        "$SWITCHYARD_DATA_DIR/sim-mt5, i.e. .switchyard/sim-mt5)",
    )
    parser.add_argument(
        "--accounts",
        type=Path,
        default=env.get(ENV_ACCOUNTS),
        help="accounts JSON (default: demo accounts written to <data dir>/accounts.json)",
    )
    parser.add_argument("--journal", type=Path, default=env.get(ENV_JOURNAL))
    parser.add_argument(
        "--state",
        type=Path,
        default=env.get(ENV_STATE),
        help="state kept across restarts (default: <data dir>/state.json)",
    )
    parser.add_argument(
        "--no-state", action="store_true", help="keep nothing across restarts (memory only)"
    )
    parser.add_argument("--symbols", default=env.get(ENV_SYMBOLS), help="comma-separated")
    parser.add_argument("--login-delay-ms", type=float, default=_env_float(ENV_LOGIN_DELAY_MS))
    parser.add_argument("--login-jitter-ms", type=float, default=_env_float(ENV_LOGIN_JITTER_MS))
    parser.add_argument("--seed", type=int, default=int(env.get(ENV_SEED, "0")))
    parser.add_argument("--frozen-time", type=float, default=env.get(ENV_FROZEN_TIME))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        check_listen_address(args.host, allow_non_loopback=args.allow_non_loopback)
        accounts = args.accounts or write_accounts(args.data_dir / "accounts.json")
        state = None if args.no_state else (args.state or args.data_dir / "state.json")
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
            state_path=state,
            allow_non_loopback=args.allow_non_loopback,
        )
    except SimStartError as exc:
        print(f"switchyard sim mt5: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
