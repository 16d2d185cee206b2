"""The counters behind the rate limits, as storages of the ``limits`` library.

``limits`` brings the algorithm (``FixedWindowRateLimiter``: a count per key and window,
reset when the window ends) and the storage interface it counts through; it has no
PostgreSQL storage, so here are two of ours, both with an injectable clock (epoch seconds):

- ``MemoryCounters``: in this process only. SQLite (the demo, one process) uses it.
- ``SharedCounters``: PostgreSQL, for several server processes. A process counts hits in
  memory and tells the others through the ``rate_limit_counters`` table (UNLOGGED: a crash
  forgets the counts, which only resets some windows) with one statement,
  ``INSERT … ON CONFLICT DO UPDATE … RETURNING count``, that adds its hits and reads the
  total of every process. It does so on the first hit of a key's window and then every
  ``batch`` hits, so a key costs one round trip per ``batch`` requests, not one per request.
  Between two such pushes a process answers from the total it last read plus its own
  hits: across N processes a limit may be passed by at most N × (batch − 1) hits
  (``REGIE_RATE_LIMIT_SYNC_SHARE`` sets batch as a share of the limit; batch 1 is exact).

Windows are fixed (the first hit of a key starts its window, whose end every process
reads from the table). A moving window would need a row per hit; a fixed one lets a client
send up to twice the limit around a window's end, which is fine for what these limits
are for (stopping floods and probing, not metering).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits.aio.storage import Storage
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import BigInteger, Column, Field, Float, SQLModel

from regie.kit.database import Database

log = logging.getLogger("regie.ratelimit")

Clock = Callable[[], float]
MAX_KEYS = 100_000  # keys remembered per storage; beyond it the oldest windows are dropped


class RateLimitCounter(SQLModel, table=True):
    """One key's count in its current window, shared by every process (PostgreSQL only)."""

    __tablename__ = "rate_limit_counters"

    key: str = Field(primary_key=True, max_length=255)
    count: int = Field(sa_column=Column(BigInteger(), nullable=False))
    # the window's end, in epoch seconds of the processes' clocks
    expires_at: float = Field(sa_column=Column(Float(), nullable=False, index=True))


@dataclass
class _Window:
    count: int  # the total as last read from the table (all of it, in memory only)
    expires_at: float
    pending: int = 0  # hits counted here since, not yet pushed to the table
    synced: bool = False


class MemoryCounters(Storage):
    """Counts in this process only."""

    STORAGE_SCHEME = None

    def __init__(self, clock: Clock = time.time, max_keys: int = MAX_KEYS) -> None:
        super().__init__()
        self.clock = clock
        self.max_keys = max_keys
        self._windows: dict[str, _Window] = {}

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (SQLAlchemyError, OSError)

    def _current(self, key: str) -> _Window | None:
        window = self._windows.get(key)
        if window is not None and self.clock() >= window.expires_at:
            del self._windows[key]  # its window is over (hits not pushed belonged to it)
            return None
        return window

    def _start(self, key: str, expiry: float) -> _Window:
        if len(self._windows) >= self.max_keys:
            now = self.clock()
            for old in [k for k, w in self._windows.items() if w.expires_at <= now]:
                del self._windows[old]
            if len(self._windows) >= self.max_keys:  # still full: forget the oldest half
                for old in list(self._windows)[: self.max_keys // 2]:
                    del self._windows[old]
        window = self._windows[key] = _Window(0, self.clock() + expiry)
        return window

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        window = self._current(key) or self._start(key, expiry)
        window.count += amount
        return window.count

    async def get(self, key: str) -> int:
        window = self._current(key)
        return window.count + window.pending if window is not None else 0

    async def get_expiry(self, key: str) -> float:
        window = self._current(key)
        return window.expires_at if window is not None else self.clock()

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count = len(self._windows)
        self._windows.clear()
        return count

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)


# Adds a process's hits to a key's window, or starts a new window when the stored one is
# over; answers the total of every process and the window's end.
_PUSH = text(
    """
    INSERT INTO rate_limit_counters (key, count, expires_at)
    VALUES (:key, :delta, :fresh_end)
    ON CONFLICT (key) DO UPDATE SET
      count = CASE WHEN rate_limit_counters.expires_at <= :now THEN excluded.count
                   ELSE rate_limit_counters.count + excluded.count END,
      expires_at = CASE WHEN rate_limit_counters.expires_at <= :now THEN excluded.expires_at
                        ELSE rate_limit_counters.expires_at END
    RETURNING count, expires_at
    """
)


class SharedCounters(MemoryCounters):
    """Counts shared by every process through PostgreSQL, pushed every ``batch`` hits."""

    def __init__(
        self, db: Database, batch: int = 1, clock: Clock = time.time, max_keys: int = MAX_KEYS
    ) -> None:
        super().__init__(clock, max_keys)
        self.db = db
        self.batch = max(1, batch)

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        window = self._current(key) or self._start(key, expiry)
        window.pending += amount
        if not window.synced or window.pending >= self.batch:
            await self._push(key, window, expiry)
        return window.count + window.pending

    async def _push(self, key: str, window: _Window, expiry: float) -> None:
        delta, window.pending = window.pending, 0  # hits arriving meanwhile stay pending
        now = self.clock()
        params = {"key": key, "delta": delta, "now": now, "fresh_end": now + expiry}
        try:
            # one statement, autocommitted: no BEGIN/COMMIT round trips around it
            async with self.db.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                count, expires_at = (await auto.execute(_PUSH, params)).one()
        except (SQLAlchemyError, OSError) as exc:
            # the database is unreachable: count here (open, not closed: a limit never
            # refuses every citizen because PostgreSQL is down) and push again next hit
            log.warning("rate limit counters not shared", extra={"error_class": type(exc).__name__})
            window.pending += delta
            return
        if expires_at != window.expires_at:  # the table's window (another process began it)
            window.expires_at, window.count = float(expires_at), int(count)
        else:  # two pushes of this process may come back out of order: keep the larger
            window.count = max(window.count, int(count))
        window.synced = True


async def prune_counters(db: Database, now: float | None = None) -> int:
    """Delete the windows that are over (the maintenance job, PostgreSQL only)."""
    if not db.is_postgres:
        return 0
    async with db.engine.begin() as conn:
        result = await conn.execute(
            text("DELETE FROM rate_limit_counters WHERE expires_at <= :now"),
            {"now": time.time() if now is None else now},
        )
    return int(getattr(result, "rowcount", 0) or 0)
