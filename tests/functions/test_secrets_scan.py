"""The suite-wide secrets scan can fail: it finds a planted secret or ciphertext."""

from __future__ import annotations

from tests.functions.helpers import API_SECRET, MT5_PASSWORD, leaked


def test_the_scan_finds_a_planted_password_or_ciphertext():
    assert leaked([("u", '{"ok": true}')]) == []
    assert leaked([("u", f'{{"password": "{MT5_PASSWORD}"}}')])
    assert leaked([("u", f"...{API_SECRET}...")])
    assert leaked([("u", "gAAAAABl-some-fernet-token")])
