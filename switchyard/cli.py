"""The `switchyard` command.

    switchyard dev                 the whole local stack, in the foreground
    switchyard db migrate|status   the schema
    switchyard keys generate|rotate
    switchyard token EMAIL         a local user and an access token for curl
    switchyard login EMAIL         sign in to Supabase Auth (password, second factor)
    switchyard dashboard --config  the web dashboard's static files

Commands that need broker libraries import them only when they run, so the base
install (the functions) keeps working without them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from switchyard.db import connect
from switchyard.embedded import database_url
from switchyard.errors import ConfigError, SwitchyardError
from switchyard.migrate import migrate, status
from switchyard.rotation import RotationProgress, rotate
from switchyard.settings import Settings, load_settings
from switchyard.tokens import local_identity
from switchyard.vault import KeyRing, Vault, generate_key


def _db_migrate(settings: Settings, _: argparse.Namespace) -> int:
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        applied = migrate(conn)
    for migration in applied:
        print(f"applied {migration.version} {migration.name}")
    print(f"{len(applied)} migration(s) applied; the database is up to date.")
    return 0


def _db_status(settings: Settings, _: argparse.Namespace) -> int:
    with connect(database_url(settings), autocommit=True) as conn:
        entries = status(conn)
    for entry in entries:
        state = "applied" if entry.applied else "pending"
        print(f"{state:8} {entry.migration.version} {entry.migration.name}")
    pending = sum(not e.applied for e in entries)
    print(f"{len(entries) - pending} applied, {pending} pending")
    return 0


def _keys_generate(_: Settings, __: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def _keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    ring = KeyRing.parse(
        settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
    )

    def report(progress: RotationProgress) -> None:
        print(f"rotated {progress.rotated}, remaining {progress.remaining}", flush=True)

    with connect(database_url(settings), autocommit=True) as conn:
        result = rotate(conn, Vault(ring), batch_size=args.batch_size, report=report)
    print(
        f"done: {result.rotated} re-encrypted under key {ring.newest.key_id}, "
        f"{result.already_current} already current, {len(result.undecryptable)} undecryptable"
    )
    for account_id in result.undecryptable:
        print(f"  cannot decrypt the credentials of account {account_id}", file=sys.stderr)
    return 1 if result.undecryptable else 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    with connect(database_url(settings), autocommit=True) as conn:
        identity = local_identity(conn, settings, args.email, ttl_s=args.ttl)
    print(identity.access_token)
    print(f"user {identity.user_id} <{identity.email}>", file=sys.stderr)
    return 0


def _login(settings: Settings, args: argparse.Namespace) -> int:
    from switchyard.login import run

    return run(settings, args.email, password_stdin=args.password_stdin)


def _dev(settings: Settings, args: argparse.Namespace) -> int:
    from switchyard.dev import run_dev

    return run_dev(settings, args)


def _dashboard(_: Settings, args: argparse.Namespace) -> int:
    from switchyard.dashboard import main as serve_dashboard

    return serve_dashboard(["--config", str(args.config), "--host", args.host,
                            "--port", str(args.port)])  # fmt: skip


def _functions(settings: Settings, args: argparse.Namespace) -> int:
    from functions.server import serve

    return serve(settings, host=args.host, port=args.port)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from worker.main import run
    except ImportError as exc:
        raise ConfigError(
            f"the worker needs switchyard[worker] installed ({exc.name} is missing)"
        ) from exc
    return run(settings, args)


#: `switchyard sim <name>`: the stand-in's module (its `main(argv)`) and the extra it needs.
_STAND_INS: dict[str, tuple[str, str, str]] = {
    "mt5": (
        "switchyard.sim.mt5.server",
        "worker",
        "a simulated MT5 terminal behind mt5linux's rpyc server",
    ),
    "exchange": (
        "switchyard.sim.exchange.server",
        "worker",
        "a simulated exchange (Binance, Bybit, OKX, Coinbase) for real ccxt",
    ),
    "auth": ("switchyard.sim.auth.server", "sim", "a local stand-in for Supabase Auth (GoTrue)"),
}


def _sim(_: Settings, args: argparse.Namespace) -> int:
    module_name, extra, _help = _STAND_INS[args.sim_command]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"switchyard sim {args.sim_command} needs switchyard[{extra}] installed "
            f"({exc.name} is missing)"
        ) from exc
    code: int = module.main(args.sim_args)
    return code


Handler = Callable[[Settings, argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run the whole local stack in the foreground")
    dev.add_argument("--host", default="127.0.0.1", help="where the functions listen")
    dev.add_argument("--port", type=int, default=8000, help="the functions' port")
    dev.add_argument("--mt5-port", type=int, default=18812, help="the simulated terminal's port")
    dev.add_argument(
        "--mt5-login-delay-ms", type=int, default=300, help="the simulated terminal's login time"
    )
    dev.add_argument(
        "--exchange-port", type=int, default=18900, help="the simulated exchange's port"
    )
    dev.add_argument("--auth-port", type=int, default=54321, help="the local Supabase Auth's port")
    dev.add_argument("--dashboard-port", type=int, default=8080, help="the web dashboard's port")
    dev.set_defaults(handler=_dev)

    db = commands.add_parser("db", help="the database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("migrate", help="apply pending migrations").set_defaults(handler=_db_migrate)
    db.add_parser("status", help="list applied and pending migrations").set_defaults(
        handler=_db_status
    )

    keys = commands.add_parser("keys", help="the encryption key ring").add_subparsers(
        dest="keys_command", required=True
    )
    keys.add_parser("generate", help="print a new Fernet key").set_defaults(handler=_keys_generate)
    rot = keys.add_parser("rotate", help="re-encrypt every secret under the newest key")
    rot.add_argument("--batch-size", type=int, default=100)
    rot.set_defaults(handler=_keys_rotate)

    functions = commands.add_parser("functions", help="serve the HTTP functions")
    functions.add_argument("--host", default="127.0.0.1")
    functions.add_argument("--port", type=int, default=8000)
    functions.set_defaults(handler=_functions)

    dashboard = commands.add_parser("dashboard", help="serve the web dashboard's static files")
    dashboard.add_argument("--config", type=Path, required=True, help="its config.json")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8080)
    dashboard.set_defaults(handler=_dashboard)

    worker = commands.add_parser("worker", help="run the worker (terminals, exchanges, schedule)")
    worker.set_defaults(handler=_worker)

    sim = commands.add_parser("sim", help="simulators for local use").add_subparsers(
        dest="sim_command", required=True
    )
    for name, (_module, _extra, about) in _STAND_INS.items():
        stand_in = sim.add_parser(name, help=about, add_help=False)
        stand_in.add_argument("sim_args", nargs=argparse.REMAINDER, help="its own options")
        stand_in.set_defaults(handler=_sim)

    token = commands.add_parser("token", help="a local user and an access token")
    token.add_argument("email")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(handler=_token)

    login = commands.add_parser(
        "login", help="sign in to Supabase Auth and print an access token for curl"
    )
    login.add_argument("email")
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin's first line (and a TOTP code from the next) "
        "instead of asking on the terminal",
    )
    login.set_defaults(handler=_login)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    # A stand-in has its own options; everything after `sim <name>` is passed through.
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "sim_command", None) not in _STAND_INS:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.sim_args = [*extra, *args.sim_args]
    handler: Handler = args.handler
    try:
        code = handler(load_settings(), args)
    except SwitchyardError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)
