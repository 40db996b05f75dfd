"""The JSONL ledger: one line per fill the simulator executed, flushed as it happens.

Tests prove exactly-once from it: an order the worker placed once appears once, whatever
time-outs or crashes happened around it. Lines carry the API key id, never its secret.
"""

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .orders import Fill, Order


@dataclass
class Ledger:
    path: Path | None
    _file: IO[str] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def append(self, entry: dict[str, Any]) -> None:
        if self.path is None:
            return
        line = json.dumps(entry, sort_keys=True, separators=(",", ":"))
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_ledger(path: Path) -> list[dict[str, Any]]:
    """Every entry of the ledger at ``path`` (empty when it does not exist yet)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def fill_entry(order: Order, fill: Fill) -> dict[str, Any]:
    """One ledger line: who filled what, under which client and venue order ids."""
    return {
        "event": "fill",
        "exchange": order.instrument.exchange,
        "api_key": order.api_key,
        "account": order.account.split(":", 1)[1],
        "client_order_id": order.client_id,
        "order_id": order.venue_id,
        "trade_id": fill.venue_id,
        "symbol": order.instrument.id,
        "kind": str(order.instrument.kind),
        "side": str(order.side),
        "type": str(order.type),
        "amount": str(fill.qty),
        "price": str(fill.price),
        "fee": str(fill.fee),
        "fee_asset": fill.fee_asset,
        "reduce_only": order.reduce_only,
        "trigger": order.trigger,
        "time": fill.time_ms,
    }
