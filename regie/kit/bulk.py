"""Many rows in one go, inside the caller's transaction (no unit of work).

On PostgreSQL the rows go out with ``COPY … FROM STDIN`` (asyncpg's binary
``copy_records_to_table``) on the session's own connection, so they commit or roll back
with everything else; triggers and constraints apply as for an INSERT. On SQLite, one
executemany INSERT. Column values are given as the database stores them: the caller
passes aware UTC datetimes, JSON already serialised, and leaves out an autoincrement key.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from asyncpg.exceptions import IntegrityConstraintViolationError
from sqlalchemy import JSON, Executable, Table, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regie.kit.database import UTCDateTime


async def bulk_insert(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts by column name, all with the same keys) into ``table``.

    The session's transaction must already have begun with a statement (an asyncpg
    transaction starts lazily): COPY then runs inside it.
    """
    if not rows:
        return
    conn = await session.connection()
    if conn.dialect.name != "postgresql":
        await session.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    converters = [_copy_value(table, c) for c in columns]
    with no_gc():
        records = [tuple(f(r[c]) for c, f in zip(columns, converters, strict=True)) for r in rows]
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    try:
        await driver.copy_records_to_table(table.name, records=records, columns=columns)
    except IntegrityConstraintViolationError as exc:  # as an INSERT would have raised it
        raise IntegrityError(f"COPY {table.name}", None, exc) from None


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused over a synchronous loop that allocates many
    objects (building the rows of a batch): they are all alive until the loop ends, so a
    collection finds nothing but costs time, and with 10,000 rows it ran dozens of times.
    Only around code without ``await``: no other task runs while it is paused."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _same(value: Any) -> Any:
    return value


def _json(value: Any) -> Any:
    return None if value is None else json.dumps(value)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
    return value


def _copy_value(table: Table, name: str) -> Any:
    """What turns a Python value into what COPY's binary codec of the column takes."""
    column_type = table.c[name].type
    if isinstance(column_type, JSON):
        return _json
    if isinstance(column_type, UTCDateTime):
        return _utc
    return _same


async def write_together(
    session: AsyncSession,
    statements: Sequence[Executable],
    *,
    counted: Executable | None = None,
) -> int:
    """Run INSERT / UPDATE statements (Core, no RETURNING) in the caller's transaction, in
    ONE round trip on PostgreSQL: each becomes a data-modifying CTE of a single statement
    (``WITH w0 AS (INSERT …), w1 AS (UPDATE …) SELECT 1``), which PostgreSQL runs in full,
    all against one snapshot. So none of them may read what another one writes (an UPDATE
    of a row inserted beside it would find nothing); foreign keys and constraints are
    checked at the end of the statement as usual, and a violation rolls the whole
    statement back. On SQLite they run one after the other, in the order given.

    ``counted``: one more statement, with RETURNING, run last with the others; the number
    of rows it returned is returned (0 without it): a conditional UPDATE says so whether it
    found its row (``regie.kit.idempotency.Claim.completion``)."""
    conn = await session.connection()
    every = [*statements, *([counted] if counted is not None else [])]
    if conn.dialect.name != "postgresql" or len(every) < 2:
        for stmt in statements:
            await session.execute(stmt)
        return 0 if counted is None else len((await session.execute(counted)).all())
    ctes = [stmt.cte(f"w{i}") for i, stmt in enumerate(every)]  # type: ignore[attr-defined]
    if counted is None:
        await session.execute(select(literal(1)).add_cte(*ctes))
        return 0
    query = select(func.count()).select_from(ctes[-1]).add_cte(*ctes[:-1])
    return int((await session.execute(query)).scalar_one())
