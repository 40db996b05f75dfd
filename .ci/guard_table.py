"""The guards of design invariants 3, 4, 5 and 7, as `guard_mutations.py` mutates them.

One entry per guard (`guard_model.Guard`): the file, the invariant, what the guard does,
the exact ORIGINAL text (found exactly once) and what it becomes with the guard gone, and
the tests that must notice. The entries live with their invariant: `guards_account.py`
(3), `guards_once.py` (4), `guards_kept.py` (5 and 7). When code moves, fix the entry
there (`guard_mutations.py --check-anchors` says which); docs/guards.md is this table
(`--markdown`). Standard library only.
"""

from __future__ import annotations

from guard_model import Guard
from guards_account import ACCOUNT
from guards_kept import KEPT
from guards_once import ONCE

__all__ = ["GUARDS", "Guard"]

GUARDS: tuple[Guard, ...] = (*ACCOUNT, *ONCE, *KEPT)
