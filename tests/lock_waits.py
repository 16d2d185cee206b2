"""How many sessions of the test's own PostgreSQL database wait on a lock: the race tests
force an interleaving by waiting until a request (or a worker) is stuck on one. Only this
database counts: another database's waits (a test run beside this one, on the same server)
are not this test's, and counting them let a test go on before its own session was stuck."""

from __future__ import annotations

from sqlalchemy import text

from regie.kit.database import Database

_WAITING = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def lock_waiters(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(_WAITING)).scalar_one())
