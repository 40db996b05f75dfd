"""The stand-in as a process: how `switchyard dev` starts it, what it refuses, what it imports."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from switchyard.sim.auth import config as cfg
from switchyard.sim.auth.app import build_app
from switchyard.sim.auth.server import start_in_subprocess
from tests.sim_auth.helpers import PASSWORD, client, jwt_part


def test_start_in_subprocess_serves_the_supabase_client_on_127_0_0_1(db_url, tmp_path):
    with start_in_subprocess(db_url, tmp_path / "data") as auth:
        assert auth.host == "127.0.0.1"
        assert auth.supabase_url == f"http://127.0.0.1:{auth.port}"
        session = client(auth).auth.sign_up({"email": "a@example.com", "password": PASSWORD})
        assert jwt_part(session.session.access_token, 1)["iss"] == f"{auth.supabase_url}/auth/v1"
    assert auth.process.poll() is not None


def test_a_public_url_becomes_the_issuer(db_url, tmp_path):
    with start_in_subprocess(
        db_url, tmp_path / "data", public_url="http://auth.localhost:9999"
    ) as auth:
        token = client(auth).auth.sign_up({"email": "a@example.com", "password": PASSWORD})
        assert (
            jwt_part(token.session.access_token, 1)["iss"] == "http://auth.localhost:9999/auth/v1"
        )


def _run_main(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "switchyard.sim.auth.server", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_it_refuses_to_start_in_production(db_url, tmp_path):
    env = os.environ | {"SWITCHYARD_ENV": "production", "DATABASE_URL": db_url}
    finished = _run_main("--port", "0", "--data-dir", str(tmp_path), env=env)
    assert finished.returncode == 2
    assert "refuses to start with SWITCHYARD_ENV=production" in finished.stderr
    assert not (tmp_path / "sim-auth").exists()


def test_the_app_factory_refuses_production_too(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHYARD_ENV", "production")
    config = cfg.AuthConfig(database_url=db_url, public_url="http://127.0.0.1:1", data_dir=tmp_path)
    with pytest.raises(cfg.ConfigError, match="SWITCHYARD_ENV=production"):
        build_app(config)


def test_it_says_so_when_there_is_no_database(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", cfg.ENV_DATABASE_URL_OVERRIDE)
    }
    finished = _run_main("--port", "0", "--data-dir", str(tmp_path), env=env)
    assert finished.returncode == 2
    assert "no database: set DATABASE_URL" in finished.stderr


def test_the_package_imports_nothing_of_the_product():
    probe = textwrap.dedent(
        """
        import importlib, pkgutil, sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                top = name.split(".")[0]
                # switchyard.sim.launching: the simulators' shared start-up (stdlib only)
                allowed = name in ("switchyard", "switchyard.sim", "switchyard.sim.launching") or (
                    name.startswith("switchyard.sim.auth"))
                if top in ("functions", "worker") or (top == "switchyard" and not allowed):
                    raise ImportError(f"the Auth stand-in imported {name}")
                return None

        sys.meta_path.insert(0, Block())
        import switchyard.sim.auth as package
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"switchyard.sim.auth.{module.name}")
        print("ok", len(sys.modules))
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("ok")
