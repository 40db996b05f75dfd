"""`switchyard login EMAIL`: sign in to Supabase Auth and print an access token for curl.

With the `supabase` Python client (`switchyard[login]`), against SUPABASE_URL with
SUPABASE_ANON_KEY (a hosted project), or else the local stand-in that `switchyard dev`
runs (its `supabase_url` and `anon_key` in `<data dir>/dev.json`).

    password   asked on the terminal without echo (getpass); with --password-stdin, the
               first line of stdin instead (when stdin is a pipe or a file). No terminal
               and no --password-stdin: refused (exit 2), never a silent read of a pipe.
    TOTP code  asked when the user has a verified factor (three tries on a terminal); with
               --password-stdin, the next line of stdin. The token printed is then aal2.

Only the access token goes to stdout (`TOKEN=$(switchyard login you@example.com)`);
prompts go to the terminal, messages to stderr. Nothing here prints a password, a code
or a refresh token. The session is left signed in: signing out would end it early.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from switchyard.errors import ConfigError
from switchyard.settings import Settings

#: Wrong codes tolerated on a terminal before giving up.
CODE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Project:
    url: str
    anon_key: str
    local: bool


def project_of(settings: Settings) -> Project:
    """Where to sign in: the hosted project configured, else the local stand-in."""
    if settings.supabase_url:
        if settings.supabase_anon_key is None:
            raise ConfigError(
                "SUPABASE_URL is set but SUPABASE_ANON_KEY is not: copy the project's anon "
                "key from its API settings"
            )
        return Project(settings.supabase_url, settings.supabase_anon_key.get_secret_value(), False)
    path = settings.data_dir / "dev.json"
    facts = _read_json(path)
    url, key = facts.get("supabase_url"), facts.get("anon_key")
    if not isinstance(url, str) or not isinstance(key, str):
        raise ConfigError(
            f"no Supabase project to sign in to: set SUPABASE_URL and SUPABASE_ANON_KEY, or "
            f"start `switchyard dev` (it writes {path})"
        )
    return Project(url, key, True)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        facts = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({type(exc).__name__})") from None
    return facts if isinstance(facts, dict) else {}


class LoginError(Exception):
    """Signing in failed; the message says why and holds no secret."""


class Prompter:
    """Where the password and the code come from: the terminal, or stdin when asked."""

    def __init__(self, stdin: TextIO, *, from_stdin: bool) -> None:
        self._stdin = stdin
        self.from_stdin = from_stdin
        if not from_stdin and not stdin.isatty():
            raise ConfigError(
                "no terminal to ask for the password on (stdin is not a tty): pass "
                "--password-stdin and write the password (and, if you have a second factor, "
                "its code on the next line) to stdin"
            )

    def password(self, email: str) -> str:
        # --password-stdin on a terminal still must not echo what is typed.
        if self.from_stdin and not self._stdin.isatty():
            return self._line("the password")
        return getpass.getpass(f"Password for {email}: ")

    def code(self) -> str:
        if self.from_stdin:
            return self._line("the TOTP code of your second factor").strip()
        print("TOTP code from your authenticator app: ", end="", file=sys.stderr, flush=True)
        return self._stdin.readline().strip()

    def _line(self, what: str) -> str:
        line = self._stdin.readline()
        if not line:
            raise LoginError(f"stdin ended before {what}")
        return line.rstrip("\r\n")


def sign_in(project: Project, email: str, prompter: Prompter) -> tuple[str, str, int]:
    """(access token, its aal, its expiry as a Unix time)."""
    try:
        from supabase import ClientOptions, create_client
        from supabase_auth.errors import AuthApiError, AuthError
    except ImportError as exc:
        raise ConfigError(
            f"switchyard login needs switchyard[login] installed ({exc.name} is missing)"
        ) from exc
    import httpx

    password = prompter.password(email)
    client = create_client(
        project.url,
        project.anon_key,
        ClientOptions(auto_refresh_token=False, persist_session=False),
    )
    try:
        try:
            response = client.auth.sign_in_with_password({"email": email, "password": password})
        except AuthApiError as exc:
            raise LoginError(f"sign-in refused: {exc.message}") from None
        session = response.session
        if session is None:
            raise LoginError("sign-in answered no session (is the email confirmed?)")
        token, aal = session.access_token, "aal1"
        expires_at = int(session.expires_at or time.time() + session.expires_in)
        level = client.auth.mfa.get_authenticator_assurance_level()
        if level.next_level == "aal2" and level.current_level != "aal2":
            factors = [f for f in client.auth.mfa.list_factors().totp if f.status == "verified"]
            if not factors:
                raise LoginError("your account asks for a second factor this command cannot use")
            attempts = 1 if prompter.from_stdin else CODE_ATTEMPTS
            for attempt in range(1, attempts + 1):
                try:
                    verified = client.auth.mfa.challenge_and_verify(
                        {"factor_id": factors[0].id, "code": prompter.code()}
                    )
                except AuthApiError as exc:
                    if attempt == attempts:
                        raise LoginError(f"second factor refused: {exc.message}") from None
                    print(f"{exc.message}; try again", file=sys.stderr, flush=True)
                    continue
                token, aal = verified.access_token, "aal2"
                expires_at = int(time.time()) + verified.expires_in
                break
    except AuthError as exc:
        raise LoginError(f"Supabase Auth answered: {exc.message}") from None
    except httpx.HTTPError as exc:
        raise LoginError(
            f"cannot reach Supabase Auth at {project.url} ({type(exc).__name__})"
        ) from None
    finally:
        client.auth.close()
    return token, aal, expires_at


def run(settings: Settings, email: str, *, password_stdin: bool) -> int:
    project = project_of(settings)
    prompter = Prompter(sys.stdin, from_stdin=password_stdin)
    try:
        token, aal, expires_at = sign_in(project, email, prompter)
    except LoginError as exc:
        print(f"switchyard login: {exc}", file=sys.stderr)
        return 1
    where = "the local stand-in" if project.local else project.url
    until = dt.datetime.fromtimestamp(expires_at, dt.UTC).strftime("%H:%M:%S UTC")
    print(token, flush=True)
    print(f"signed in as {email} at {where} ({aal}); the token expires at {until}",
          file=sys.stderr)  # fmt: skip
    return 0
