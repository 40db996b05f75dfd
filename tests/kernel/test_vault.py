"""The credential vault: key ring parsing, row binding, tampering, rotation, masking."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from switchyard.errors import ConfigError, UndecryptableSecret
from switchyard.rotation import RotationProgress, rotate
from switchyard.vault import (
    KeyRing,
    Vault,
    fingerprint_api_key,
    generate_key,
    mask_api_key,
)

SECRET = {"password": "hunter2-correct-horse"}


def test_sealed_credentials_open_only_for_their_own_account(vault):
    mine, other = uuid.uuid4(), uuid.uuid4()
    sealed = vault.seal(mine, SECRET)
    assert dict(vault.open(mine, sealed.ciphertext)) == SECRET
    with pytest.raises(UndecryptableSecret) as caught:
        vault.open(other, sealed.ciphertext)
    assert str(other) in str(caught.value)
    assert sealed.ciphertext not in str(caught.value)


def test_a_tampered_token_does_not_open(vault):
    account = uuid.uuid4()
    token = vault.seal(account, SECRET).ciphertext
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(UndecryptableSecret):
        vault.open(account, flipped)
    with pytest.raises(UndecryptableSecret):
        vault.open(account, "not a token at all…")


def test_a_missing_key_ring_refuses_to_start_and_says_how_to_fix_it():
    for value in (None, "", "  "):
        with pytest.raises(ConfigError, match="SWITCHYARD_ENCRYPTION_KEYS is not set"):
            KeyRing.parse(value)


def test_a_malformed_key_is_refused_by_position_without_echoing_it():
    good = generate_key()
    with pytest.raises(ConfigError, match="key #2 is not a Fernet key") as caught:
        KeyRing.parse(f"{good},short-and-wrong")
    assert "short-and-wrong" not in str(caught.value)
    assert good not in str(caught.value)
    with pytest.raises(ConfigError, match="same key twice"):
        KeyRing.parse(f"{good},{good}")


def test_an_older_ring_key_still_opens_and_reseal_moves_to_the_newest():
    old, new = generate_key(), generate_key()
    account = uuid.uuid4()
    before = Vault(KeyRing.parse(old)).seal(account, SECRET)
    ring = KeyRing.parse(f"{new},{old}")
    vault = Vault(ring)
    assert dict(vault.open(account, before.ciphertext)) == SECRET
    after = vault.reseal(account, before.ciphertext)
    assert after.key_id == ring.newest.key_id != before.key_id
    assert dict(Vault(KeyRing.parse(new)).open(account, after.ciphertext)) == SECRET
    with pytest.raises(UndecryptableSecret):
        Vault(KeyRing.parse(new)).open(account, before.ciphertext)


def test_nothing_secret_shows_in_reprs():
    key = generate_key()
    vault = Vault(KeyRing.parse(key))
    account = uuid.uuid4()
    sealed = vault.seal(account, SECRET)
    opened = vault.open(account, sealed.ciphertext)
    for text in (
        repr(vault.ring),
        repr(vault.ring.newest),
        repr(sealed),
        repr(opened),
        str(opened),
    ):
        assert key not in text
        assert SECRET["password"] not in text
        assert sealed.ciphertext not in text


def test_api_keys_are_masked_for_display_and_fingerprinted_for_identity():
    key = "abcdEFGHijklMNOPqrstwxyz"
    assert mask_api_key(key) == "abcd…wxyz"
    assert mask_api_key("12345678") == "…78"
    assert mask_api_key("1234") == "…"
    assert fingerprint_api_key(key) == fingerprint_api_key(f" {key} ")
    assert key not in fingerprint_api_key(key)


def _store(db, vault, user_id, n):
    ids = []
    for i in range(n):
        account = db.execute(
            """insert into public.accounts (user_id, kind, venue, name, login, server, environment)
               values (%s, 'mt5', 'mt5', 'a', %s, 'Demo', 'demo') returning id""",
            (user_id, str(1000 + i)),
        ).fetchone()["id"]
        sealed = vault.seal(account, {"password": f"pw-{i}"})
        db.execute(
            "insert into private.account_secrets (account_id, ciphertext, key_id) values (%s, %s, %s)",
            (account, sealed.ciphertext, sealed.key_id),
        )
        ids.append(account)
    return ids


def test_ciphertext_copied_onto_another_row_in_the_database_does_not_decrypt(db, vault, make_user):
    user = make_user("copy@example.com")
    first, second = _store(db, vault, user.id, 2)
    db.execute(
        """update private.account_secrets set ciphertext = (
               select ciphertext from private.account_secrets where account_id = %s)
           where account_id = %s""",
        (first, second),
    )
    stolen = db.execute(
        "select ciphertext from private.account_secrets where account_id = %s", (second,)
    ).fetchone()["ciphertext"]
    with pytest.raises(UndecryptableSecret):
        vault.open(second, stolen)


def test_rotation_reencrypts_in_batches_and_resumes_after_an_interruption(db, make_user):
    old = generate_key()
    user = make_user("rotate@example.com")
    ids = _store(db, Vault(KeyRing.parse(old)), user.id, 7)
    ring = KeyRing.parse(f"{generate_key()},{old}")
    vault = Vault(ring)

    class StopRotationError(Exception):
        pass

    def stop_after_first_batch(progress: RotationProgress) -> None:
        raise StopRotationError

    with pytest.raises(StopRotationError):
        rotate(db, vault, batch_size=3, report=stop_after_first_batch)
    counts = db.execute(
        "select count(*) filter (where key_id = %s) as new from private.account_secrets",
        (ring.newest.key_id,),
    ).fetchone()
    assert counts["new"] == 3  # the first batch was committed before the interruption

    seen: list[int] = []
    result = rotate(db, vault, batch_size=3, report=lambda p: seen.append(p.remaining))
    assert (result.rotated, result.already_current, result.remaining) == (4, 3, 0)
    assert seen == [1, 0]
    newest_only = Vault(KeyRing.parse(ring.keys[0].raw.decode()))
    for i, account in enumerate(ids):
        row = db.execute(
            "select ciphertext, key_id from private.account_secrets where account_id = %s",
            (account,),
        ).fetchone()
        assert row["key_id"] == ring.newest.key_id
        assert newest_only.open(account, row["ciphertext"])["password"] == f"pw-{i}"
    audit = db.execute(
        "select count(*) as n from public.audit_log where action = 'credentials.updated'"
    ).fetchone()
    assert audit["n"] == 0  # a rotation is not a credential change


def test_rotation_reports_secrets_no_ring_key_opens_and_leaves_them_alone(db, make_user):
    user = make_user("lost@example.com")
    [lost] = _store(db, Vault(KeyRing.parse(generate_key())), user.id, 1)
    result = rotate(db, Vault(KeyRing.parse(generate_key())), batch_size=10)
    assert result.undecryptable == [lost]
    assert result.rotated == 0
    assert result.remaining == 0


def test_keys_rotate_command_fails_fast_without_a_key_ring(db_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SWITCHYARD_ENCRYPTION_KEYS"}
    env |= {"DATABASE_URL": db_url, "SWITCHYARD_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "switchyard", "keys", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "SWITCHYARD_ENCRYPTION_KEYS is not set" in done.stderr
    assert not list(tmp_path.iterdir())  # no key was generated as a fallback


def test_keys_generate_prints_a_usable_key():
    done = subprocess.run(
        [sys.executable, "-m", "switchyard", "keys", "generate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ring = KeyRing.parse(done.stdout.strip())
    assert len(ring.keys) == 1
