"""`python -m worker`: the same as `switchyard worker`."""

from __future__ import annotations

import sys

from switchyard.errors import SwitchyardError
from switchyard.settings import load_settings
from worker.main import run


def main() -> int:
    try:
        return run(load_settings())
    except SwitchyardError as exc:
        print(f"switchyard worker: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
