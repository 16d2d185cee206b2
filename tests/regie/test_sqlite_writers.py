"""SQLite writes one transaction at a time (``BEGIN IMMEDIATE``). The writers of one process
(`regie demo`: API and worker) take turns in the order they asked, in the process. Left to
SQLite's busy handler, which polls with growing sleeps, a writer that has waited a while
loses its turn to newer ones again and again and, after the busy timeout (30 s), fails
with "database is locked": a 503 `database_unavailable` under `make demo` driven by 50
clients while a 10,000-invoice batch was written."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from regie.kit.database import Database

WRITERS = 12


def _short_busy_timeout(dbapi_conn: Any, _: Any) -> None:
    """SQLite's own wait cut from 30 s to 0.2 s (after the Database's pragmas): a writer
    still waiting on SQLite's lock then fails; one waiting for its turn in the process
    does not."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=200")
    cur.close()


async def test_the_writers_of_one_process_take_turns_instead_of_timing_out(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    event.listen(db.engine.sync_engine, "connect", _short_busy_timeout)
    try:
        async with db.session() as s:
            await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
            await s.commit()

        async def write(n: int) -> None:
            async with db.session() as s:
                await s.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": n})
                await asyncio.sleep(0.05)  # the rest of the transaction's work
                if n % 4 == 1:
                    raise ValueError("a request that fails: its transaction rolls back")
                if n % 4 == 2:
                    await s.rollback()
                    return
                await s.commit()

        # twelve writers at once, 0.6 s of work one after the other: the last ones wait
        # longer than SQLite's busy timeout for their turn
        done = await asyncio.gather(*(write(n) for n in range(WRITERS)), return_exceptions=True)
        unexpected = [repr(r) for r in done if r is not None and not isinstance(r, ValueError)]
        assert unexpected == []
        assert sum(isinstance(r, ValueError) for r in done) == WRITERS // 4

        # the turns of the writers that rolled back or failed were given back
        await write(100)
        async with db.session() as s:
            kept = (await s.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all()
        assert kept == [n for n in (*range(WRITERS), 100) if n % 4 in (0, 3)]
    finally:
        await db.dispose()
