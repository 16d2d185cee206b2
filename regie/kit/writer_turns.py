"""The writers of one process take turns on SQLite, first come first served.

SQLite lets one transaction write at a time (regie begins each with ``BEGIN IMMEDIATE``). A
connection that finds the lock taken waits in SQLite's busy handler, which polls with
growing sleeps (up to 100 ms apart): a writer that has waited a while keeps losing the lock
to newer ones, which poll a few milliseconds apart, and fails after the busy timeout with
"database is locked" (a 503) however short the queue ahead of it was. Under `regie demo`
with many clients (its API and its worker share the file) that happened to a request in a
few thousand. So the writers of one engine wait for their turn here, in the order they
asked, and reach SQLite one at a time; SQLite's busy handler is left to wait for another
process (a ``regie`` command beside the demo).

A writer waits in its connection's own thread (aiosqlite's), as it did in SQLite's busy
handler: the SQL function ``regie_writer_turn()``, run with ``BEGIN IMMEDIATE`` in one
call, blocks that thread until the turn is handed to it, so a turn passes from thread to
thread without waiting for the event loop, however busy. A turn ends at the transaction's
commit or rollback, or when its connection is invalidated or given back to the pool with
the transaction unfinished.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import deque
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.util import await_only

_TURN = "regie_writer_turn"  # in the connection's info while it holds the turn
_BEGIN = f"SELECT {_TURN}(); BEGIN IMMEDIATE"
# the turn handed on, in the thread after the COMMIT or ROLLBACK: a statement that yields no
# row, so that it is done at its first step and leaves nothing open on the connection
_DONE = "SELECT 1 WHERE regie_writer_done() = 0"


class _Queue:
    """A lock handed to its waiters in the order they came, from any thread to any."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            mine = threading.Event()
            self._waiting.append(mine)
        if mine.wait(timeout):
            return True
        with self._mutex:
            if mine.is_set():  # handed over as the wait ended
                return True
            self._waiting.remove(mine)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().set()  # the turn passes on: still held
            else:
                self._held = False


class WriterTurns:
    def __init__(self, engine: Engine, wait_seconds: float) -> None:
        self.wait_seconds = wait_seconds
        self._queue = _Queue()
        event.listen(engine, "connect", self._connected)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)
        event.listen(engine.pool, "checkin", self._returned)
        event.listen(engine.pool, "invalidate", self._returned)
        event.listen(engine.pool, "close", self._returned)

    def begin(self, conn: Connection) -> None:
        """``BEGIN IMMEDIATE`` once this process's writers that asked before it are done
        (called where the transaction begins). Waiting longer than ``wait_seconds`` fails as
        SQLite's busy timeout does."""
        driver = conn.connection.driver_connection  # aiosqlite's: runs in its thread
        assert driver is not None
        conn.info[_TURN] = False
        try:
            await_only(driver.executescript(_BEGIN))
        except sqlite3.Error as exc:
            taken = conn.info.pop(_TURN, False)
            if taken:  # the turn came, BEGIN IMMEDIATE failed (another process's lock)
                self._queue.release()
            reason = str(exc) if taken else f"waited {self.wait_seconds:g} s for its turn"
            raise OperationalError(_BEGIN, None, sqlite3.OperationalError(
                f"database is locked ({reason})"
            )) from None  # fmt: skip
        except BaseException:
            if conn.info.pop(_TURN, False):
                self._queue.release()
            raise

    def _connected(self, dbapi_conn: Any, record: Any) -> None:
        info = record.info

        def turn() -> int:  # in the connection's thread, before its BEGIN IMMEDIATE
            if not self._queue.acquire(self.wait_seconds):
                raise TimeoutError("no turn")
            info[_TURN] = True
            return 1

        def done() -> int:  # in the connection's thread, after its COMMIT or ROLLBACK
            if info.pop(_TURN, False):
                self._queue.release()
            return 1

        dbapi_conn.create_function(_TURN, 0, turn)
        dbapi_conn.create_function("regie_writer_done", 0, done)

    def _commit(self, conn: Connection) -> None:
        self._finish(conn, commit=True)

    def _rollback(self, conn: Connection) -> None:
        self._finish(conn, commit=False)

    def _finish(self, conn: Connection, *, commit: bool) -> None:
        """The COMMIT or ROLLBACK, then the turn handed on, queued together to the
        connection's thread (asyncio starts the two in order, and aiosqlite queues each
        before it first waits): the next writer's BEGIN IMMEDIATE never finds them still
        to run (it would sleep in SQLite's busy handler), and the turn never waits for the
        event loop. SQLAlchemy's own commit or rollback that follows finds nothing left to
        do; one that failed here it runs again, and raises as it would have."""
        try:
            driver = conn.connection.driver_connection
        except Exception:  # noqa: BLE001 - invalidated: the pool's invalidate gave it back
            return
        if driver is None or not conn.info.get(_TURN):
            return
        end = driver.commit() if commit else driver.rollback()
        await_only(asyncio.gather(end, driver.execute(_DONE), return_exceptions=True))

    def _returned(self, _dbapi_conn: Any, record: Any, *_: Any) -> None:
        if record is not None:
            self._end(record.info)

    def _end(self, info: dict[Any, Any]) -> None:
        if info.pop(_TURN, False):
            self._queue.release()
