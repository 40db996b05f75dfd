"""Re-encrypting every stored secret under the newest ring key, while the system runs.

Batches are claimed with `FOR UPDATE SKIP LOCKED` and committed one by one, so a
rotation can be stopped and started again at any point (what is done stays done),
runs beside the worker and the functions, and never holds many rows locked. A secret
that no ring key opens is reported, left as it is, and not retried in the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from switchyard.db import Connection
from switchyard.errors import UndecryptableSecret
from switchyard.queries import queries
from switchyard.vault import Vault


@dataclass(slots=True)
class RotationProgress:
    rotated: int = 0
    already_current: int = 0
    remaining: int = 0
    undecryptable: list[UUID] = field(default_factory=list)


def rotate(
    conn: Connection,
    vault: Vault,
    *,
    batch_size: int = 100,
    report: Callable[[RotationProgress], None] | None = None,
) -> RotationProgress:
    """Re-encrypt stale secrets batch by batch; returns the final progress."""
    newest = vault.ring.newest.key_id
    progress = RotationProgress()
    row = conn.execute(queries["rotation_progress"], {"key_id": newest}).fetchone()
    assert row is not None
    progress.already_current, progress.remaining = row["current"], row["stale"]
    while True:
        with conn.transaction():
            conn.execute(queries["mark_rotation"])
            batch = conn.execute(
                queries["rotation_batch"],
                {"key_id": newest, "skip": progress.undecryptable, "batch": batch_size},
            ).fetchall()
            for secret in batch:
                account_id = UUID(str(secret["account_id"]))
                try:
                    sealed = vault.reseal(account_id, secret["ciphertext"])
                except UndecryptableSecret:
                    progress.undecryptable.append(account_id)
                    continue
                conn.execute(
                    queries["rotation_store"],
                    {
                        "account_id": account_id,
                        "ciphertext": sealed.ciphertext,
                        "key_id": sealed.key_id,
                        "old_ciphertext": secret["ciphertext"],
                    },
                )
                progress.rotated += 1
        if not batch:
            break
        row = conn.execute(queries["rotation_progress"], {"key_id": newest}).fetchone()
        assert row is not None
        progress.remaining = row["stale"] - len(progress.undecryptable)
        if report is not None:
            report(progress)
    row = conn.execute(queries["rotation_progress"], {"key_id": newest}).fetchone()
    assert row is not None
    progress.remaining = row["stale"] - len(progress.undecryptable)
    return progress
