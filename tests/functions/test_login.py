"""`switchyard login EMAIL` against the local stand-in, driven through a real terminal (a
pty from the standard library) and through `--password-stdin`; its token works on the
functions."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.functions import stand_in as fixtures
from tests.sim_auth.helpers import PASSWORD, client, jwt_part, wrong_code

pytestmark = pytest.mark.anyio

stand_in = fixtures.stand_in
api = fixtures.api

EMAIL = "script-user@example.com"
PROMPT_TOTP = "TOTP code from your authenticator app: "

#: Runs `switchyard login` with the pty on stdin as its controlling terminal (getpass reads
#: /dev/tty): a new session (start_new_session) takes its stdin tty with TIOCSCTTY.
_ON_A_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, '-m', 'switchyard', 'login', *sys.argv[1:]])"
)


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SUPABASE_URL", "SUPABASE_ANON_KEY", "DATABASE_URL")
    }
    return {**env, "SWITCHYARD_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra}


def _dev_json(stand_in: Any, tmp_path: Path) -> Path:
    """A data dir whose dev.json names the stand-in, as `switchyard dev` writes it."""
    data_dir = tmp_path / "login-data"
    data_dir.mkdir()
    facts = {"supabase_url": stand_in.supabase_url, "anon_key": stand_in.anon_key}
    (data_dir / "dev.json").write_text(json.dumps(facts))
    return data_dir


class Terminal:
    """`switchyard login` on a pseudo-terminal: what it wrote, and typing into it."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _ON_A_TERMINAL, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.output = ""

    def expect(self, text: str, timeout_s: float = 30, *, times: int = 1) -> None:
        """Until `text` has been shown `times` times: typing before a prompt is shown
        would put the echo before it and the program's answer on the prompt's line."""
        deadline = time.monotonic() + timeout_s
        while self.output.count(text) < times:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"never saw {text!r}; the terminal shows {self.output!r}")

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout_s: float = 30) -> int:
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None or self._read(0.1):
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"login did not end; the terminal shows {self.output!r}")
            self._read(0.1)
        os.close(self.master)
        return self.process.wait()

    def _read(self, timeout_s: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout_s)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # the child closed the terminal
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)


def _token_in(output: str) -> str:
    (token,) = [line.strip() for line in output.splitlines() if line.strip().startswith("eyJ")]
    return token


async def test_on_a_terminal_it_asks_the_password_without_echo_and_prints_a_token(
    api, stand_in, tmp_path
):
    signed_up = client(stand_in).auth.sign_up({"email": EMAIL, "password": PASSWORD})
    terminal = Terminal([EMAIL], _env(_dev_json(stand_in, tmp_path)))
    terminal.expect(f"Password for {EMAIL}: ")
    terminal.type(PASSWORD)
    assert terminal.finish() == 0, terminal.output
    assert PASSWORD not in terminal.output  # getpass switched echo off
    token = _token_in(terminal.output)
    assert jwt_part(token, 1)["sub"] == signed_up.user.id
    assert jwt_part(token, 1)["aal"] == "aal1"
    assert "signed in as script-user@example.com at the local stand-in (aal1)" in terminal.output
    answer = await api.get("/v1/accounts", headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text


async def test_with_a_second_factor_it_asks_the_code_and_the_token_is_aal2(api, stand_in, tmp_path):
    supabase = client(stand_in)
    supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD})
    enrolled = supabase.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone"})
    secret = enrolled.totp.secret
    supabase.auth.mfa.challenge_and_verify(
        {"factor_id": enrolled.id, "code": pyotp.TOTP(secret).now()}
    )
    terminal = Terminal([EMAIL], _env(_dev_json(stand_in, tmp_path)))
    terminal.expect("Password for")
    terminal.type(PASSWORD)
    terminal.expect(PROMPT_TOTP)
    terminal.type(wrong_code(secret))
    terminal.expect("try again")
    # Asked again: only then type. The error itself says "TOTP code", so count the prompt.
    terminal.expect(PROMPT_TOTP, times=2)
    terminal.type(pyotp.TOTP(secret).now())
    assert terminal.finish() == 0, terminal.output
    token = _token_in(terminal.output)
    assert jwt_part(token, 1)["aal"] == "aal2"
    # aal2: what needs the second factor goes through with this token.
    made = await api.post(
        "/v1/api-tokens",
        json={"name": "cron", "scopes": ["read"]},
        headers={"authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.text


def test_password_stdin_reads_the_password_then_the_code_and_prints_only_the_token(
    stand_in, tmp_path
):
    supabase = client(stand_in)
    supabase.auth.sign_up({"email": EMAIL, "password": PASSWORD})
    enrolled = supabase.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone"})
    code = pyotp.TOTP(enrolled.totp.secret)
    supabase.auth.mfa.challenge_and_verify({"factor_id": enrolled.id, "code": code.now()})
    done = subprocess.run(
        [sys.executable, "-m", "switchyard", "login", EMAIL, "--password-stdin"],
        input=f"{PASSWORD}\n{code.now()}\n",
        capture_output=True,
        text=True,
        env=_env(_dev_json(stand_in, tmp_path)),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()  # nothing else on stdout: TOKEN=$(...) works
    assert jwt_part(token, 1)["aal"] == "aal2"
    assert PASSWORD not in done.stdout + done.stderr
    # A second factor needs its line: without it, a clear refusal and no token.
    missing = subprocess.run(
        [sys.executable, "-m", "switchyard", "login", EMAIL, "--password-stdin"],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        env=_env(_dev_json_again(tmp_path)),
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert "stdin ended before the TOTP code" in missing.stderr


def _dev_json_again(tmp_path: Path) -> Path:
    return tmp_path / "login-data"


@pytest.mark.parametrize(
    ("stdin_text", "expected"),
    [
        (None, "no terminal to ask for the password on"),
        ("wrong password\n", "sign-in refused: Invalid login credentials"),
    ],
)
def test_without_a_terminal_or_with_a_wrong_password_it_says_why(
    stand_in, tmp_path, stdin_text, expected
):
    client(stand_in).auth.sign_up({"email": EMAIL, "password": PASSWORD})
    args = [sys.executable, "-m", "switchyard", "login", EMAIL]
    done = subprocess.run(
        [*args, "--password-stdin"] if stdin_text else args,
        input=stdin_text or "",
        capture_output=True,
        text=True,
        env=_env(_dev_json(stand_in, tmp_path)),
        timeout=60,
        check=False,
    )
    assert done.returncode == (1 if stdin_text else 2)
    assert done.stdout == ""
    assert expected in done.stderr
    assert "wrong password" not in done.stderr


def test_with_nowhere_to_sign_in_it_names_what_to_set(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [sys.executable, "-m", "switchyard", "login", EMAIL, "--password-stdin"]
    for env, expected in (
        (_env(empty), "set SUPABASE_URL and SUPABASE_ANON_KEY, or start `switchyard dev`"),
        (
            _env(empty, SUPABASE_URL="https://proj.supabase.co"),
            "SUPABASE_URL is set but SUPABASE_ANON_KEY is not",
        ),
    ):
        done = subprocess.run(
            args, input="x\n", capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert done.returncode == 2
        assert expected in done.stderr
