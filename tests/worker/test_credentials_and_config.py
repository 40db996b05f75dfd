"""Credentials that cannot be decrypted, validation errors that never echo input, and the
worker's refusal of a bridge address that is not on this machine."""

from __future__ import annotations

import subprocess
import sys

import pytest

from switchyard.domain import OrderPayload
from switchyard.errors import ConfigError
from switchyard.vault import KeyRing, Vault, generate_key
from tests.worker.helpers import REPO, SIM_ACCOUNTS, order, running, sim_state, wait_job, worker_env
from worker.process import Worker
from worker.trading.risk import check_order

ALICE = SIM_ACCOUNTS[0]
REENTER = "re-enter the credentials"


def _seal_under_a_removed_key(db, account) -> None:
    """The account's secret, sealed under a key the worker's ring no longer has."""
    sealed = Vault(KeyRing.parse(generate_key())).seal(account.id, {"password": account.password})
    db.execute(
        "update private.account_secrets set ciphertext = %s, key_id = %s where account_id = %s",
        (sealed.ciphertext, sealed.key_id, account.id),
    )


def test_a_pending_account_whose_credentials_cannot_be_decrypted_fails_with_what_to_do(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE, status="pending")
    _seal_under_a_removed_key(db, account)
    job = enqueue(account, "verify")
    with running(worker_settings(sim)):
        row = wait_job(db, job)
    assert (row["status"], row["error"]["code"]) == ("failed", "account_unavailable")
    assert REENTER in row["error"]["message"]
    acc = db.execute(
        "select status, status_reason from public.accounts where id = %s", (account.id,)
    ).fetchone()
    assert acc["status"] == "failed"
    assert REENTER in acc["status_reason"]
    audit = db.execute(
        "select detail from public.audit_log where account_id = %s and action = 'account.failed'",
        (account.id,),
    ).fetchone()
    assert REENTER in audit["detail"]["reason"]
    assert sim_state(sim)["login"] is None  # no login was attempted


def test_a_verified_account_whose_credentials_cannot_be_decrypted_is_disabled_and_trades_nothing(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    _seal_under_a_removed_key(db, account)
    job = enqueue(account, "order", order())
    with running(worker_settings(sim)):
        row = wait_job(db, job)
        after = wait_job(db, enqueue(account, "order", order()))
    assert (row["status"], row["error"]["code"]) == ("failed", "account_unavailable")
    assert "the account is now disabled" in row["error"]["message"]
    acc = db.execute(
        "select status, status_reason, next_verify_at from public.accounts where id = %s",
        (account.id,),
    ).fetchone()
    assert acc["status"] == "disabled"
    assert REENTER in acc["status_reason"]
    assert acc["next_verify_at"] is None
    assert (after["status"], after["error"]["code"]) == ("failed", "account_unavailable")
    assert sim.journal() == []


def test_an_invalid_payload_is_described_by_field_names_never_by_the_values_sent(
    db, sim, make_account, enqueue, worker_settings
):
    account = make_account(ALICE)
    payload = {
        "symbol": "EURUSD",
        "side": "sideways-4f1c9e",
        "volume": "0.1",
        "note-7d2b3a": "anything",
    }
    job = enqueue(account, "order", payload)
    limit = enqueue(
        account, "order", {"symbol": "EURUSD", "side": "buy", "volume": "1", "type": "limit"}
    )
    with running(worker_settings(sim)):
        row = wait_job(db, job)
        cross = wait_job(db, limit)
    assert (row["status"], row["error"]["code"]) == ("failed", "invalid_request")
    message = row["error"]["message"]
    assert "side is not valid" in message
    assert "1 unknown field" in message
    assert "sideways-4f1c9e" not in str(row)
    assert "note-7d2b3a" not in str(row)
    assert "input" not in message  # pydantic's "input_value=…"
    assert "a limit order needs a price" in cross["error"]["message"]  # our own sentence
    assert sim.journal() == []


def test_unreadable_risk_limits_are_described_without_their_values():
    payload = OrderPayload.model_validate({"symbol": "EURUSD", "side": "buy", "volume": "0.5"})
    refusal = check_order({"max_volume": "lots-9a8b", "key-secret-77": 1}, payload)
    assert refusal is not None
    assert "max_volume is not valid" in refusal.error.message
    assert "1 unknown field" in refusal.error.message
    assert "lots-9a8b" not in refusal.error.message
    assert "key-secret-77" not in refusal.error.message


@pytest.mark.parametrize(
    "address", ["10.0.0.5:18812", "192.168.1.20:18812", "mt5-box.internal:18812", "0.0.0.0:1"]
)
def test_a_bridge_address_off_this_machine_is_refused_naming_it_and_the_setting(
    worker_settings, address
):
    with pytest.raises(ConfigError) as refused:
        Worker(worker_settings(mt5_terminals=(address,)), "postgresql://unused")
    assert address in str(refused.value)
    assert "SWITCHYARD_MT5_PRIVATE_NETWORK=true" in str(refused.value)


@pytest.mark.parametrize(
    "address", ["127.0.0.1:18812", "127.8.9.10:18812", "[::1]:18812", "localhost:18812"]
)
def test_loopback_bridges_need_no_setting(worker_settings, address):
    Worker(worker_settings(mt5_terminals=(address,)), "postgresql://unused")


def test_the_operator_may_declare_the_bridges_on_a_private_network(worker_settings):
    terminals = ("10.0.0.5:18812", "mt5-box.internal:18812")
    settings = worker_settings(mt5_terminals=terminals, mt5_private_network=True)
    assert Worker(settings, "postgresql://unused").settings.mt5_terminals == terminals


def test_a_lease_shorter_than_a_call_and_two_heartbeats_is_refused(worker_settings):
    # 2 s call + 1 s margin + 2 x 0.5 s heartbeats = 4 s: a 3.5 s lease could lapse mid-call
    settings = worker_settings(worker_lease_s=3.5, mt5_call_timeout_s=2.0, worker_heartbeat_s=0.5)
    with pytest.raises(ConfigError) as refused:
        Worker(settings, "postgresql://unused")
    assert "SWITCHYARD_WORKER_LEASE_S must exceed 4 s" in str(refused.value)
    Worker(settings.model_copy(update={"worker_lease_s": 4.5}), "postgresql://unused")


def test_the_worker_command_refuses_a_public_bridge_before_it_starts(worker_settings):
    env = worker_env(worker_settings(), SWITCHYARD_MT5_TERMINALS="203.0.113.7:18812")
    done = subprocess.run(
        [sys.executable, "-m", "worker"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "203.0.113.7:18812" in done.stderr
    assert "SWITCHYARD_MT5_PRIVATE_NETWORK" in done.stderr
