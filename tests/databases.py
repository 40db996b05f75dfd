"""Fresh per-test databases, made ahead of the tests and dropped behind them.

Copying the template and dropping a used database take up to a second each on a busy
2-core machine (each copy waits for a checkpoint and its fsyncs), and most tests need
one: done in the test's own setup and teardown that is minutes of a run. Here `makers`
threads keep `ahead` copies ready and another drops used ones while the tests run
(measured on tests/functions/test_strict_input.py: 40 s with the copies made inline,
15-26 s with three makers; the tests then wait under a second in all for databases). If that thread fails, the next test that asks for a database
fails with its error (never a silent wait).
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable

from psycopg import sql

from switchyard.db import Connection, connect

#: How long a test waits for a database before the pool is considered broken.
TAKE_TIMEOUT_S = 120.0


class Databases:
    def __init__(self, admin_url: str, template: str, *, ahead: int = 4, makers: int = 3) -> None:
        self._admin_url = admin_url
        self._template = template
        self._ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self._used: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        # One thread copies the template ahead, the other drops behind: neither waits.
        self._threads = [
            *(
                threading.Thread(target=self._guard, args=(self._make,), name=f"test-db-make-{n}")
                for n in range(makers)
            ),
            threading.Thread(target=self._guard, args=(self._drop_used,), name="test-db-drop"),
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def take(self) -> str:
        """The name of a fresh copy of the template, for one test."""
        try:
            return self._ready.get(timeout=TAKE_TIMEOUT_S)
        except queue.Empty:
            raise RuntimeError(
                f"no test database within {TAKE_TIMEOUT_S:.0f} s: {self._failure!r}"
            ) from self._failure

    def give_back(self, name: str) -> None:
        """The test is done with it: it is dropped in the background."""
        self._used.put(name)

    def close(self) -> None:
        """Stop both threads and drop what is left, used and unused."""
        self._stop.set()
        self._used.put(None)
        for thread in self._threads:
            thread.join(TAKE_TIMEOUT_S)
        with connect(self._admin_url, autocommit=True) as conn:
            while not self._ready.empty():
                self._drop(conn, self._ready.get_nowait())
        if self._failure is not None:
            raise RuntimeError("a test database thread failed") from self._failure

    def _guard(self, work: Callable[[Connection], None]) -> None:
        try:
            with connect(self._admin_url, autocommit=True) as conn:
                work(conn)
        except BaseException as exc:  # kept and raised by take()/close(): never lost
            self._failure = exc
            raise

    def _make(self, conn: Connection) -> None:
        while not self._stop.is_set():
            name = f"switchyard_test_{uuid.uuid4().hex[:12]}"
            conn.execute(
                sql.SQL("create database {} template {} strategy file_copy").format(
                    sql.Identifier(name), sql.Identifier(self._template)
                )
            )
            while not self._stop.is_set():
                try:
                    self._ready.put(name, timeout=0.2)
                    break
                except queue.Full:
                    continue
            else:
                self._drop(conn, name)

    def _drop_used(self, conn: Connection) -> None:
        while (name := self._used.get()) is not None:
            self._drop(conn, name)

    @staticmethod
    def _drop(conn: Connection, name: str) -> None:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
