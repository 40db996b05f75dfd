"""What one entry of the guard table is (`Guard`), and the test files entries name.

The table itself is `guard_table.py`, from the invariants' modules (`guards_*.py`).
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

W = "tests/worker"
GUARDS_T = f"{W}/test_guards.py"
SAFETY_T = f"{W}/test_safety.py"
TTL_T = f"{W}/test_ttl.py"
QUEUE_T = f"{W}/test_queue.py"
LANE_T = f"{W}/test_lane_failures.py"
KINDS_T = f"{W}/test_job_kinds.py"
CONTRACT_T = "tests/contract/test_venue_contract.py"


@dataclass(frozen=True)
class Guard:
    id: str
    #: The design invariant it protects (3, 4, 5 or 7).
    invariant: int
    file: str
    #: What the guard does, in one sentence (docs/guards.md).
    what: str
    #: Exact text, found exactly once in `file`; replaced by `mutated`.
    original: str
    mutated: str
    #: pytest node ids; at least one must fail with the guard gone.
    tests: tuple[str, ...]
