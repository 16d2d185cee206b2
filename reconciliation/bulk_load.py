"""The bulk path's loading (``reconciliation.bulk``): the report typed in memory while
PostgreSQL hands over the ledger's payments.

- The report's bytes are typed by Arrow where they lie (``bulk_typing.typed``: pyarrow's CSV
  reader and compute kernels, on a worker thread; they let go of the GIL), and DuckDB scans
  the typed table in place (``load_report``): no copy of the report on a disk or in a table
  of DuckDB's own.
- Meanwhile PostgreSQL writes the ledger's payments of the run's window with ``COPY ... CSV``
  into the run's private directory (``read_ledger``, or before the run started:
  ``ledger_copy``): its own process, its own CPU. One read of one table
  (``ledger_psp_postings``), no join.

A row that is not plainly right, a read that fails (a row with another number of fields,
bytes that are not UTF-8), or a file whose lines pyarrow would count otherwise (a blank line,
a lone carriage return) sends the whole report back to the Python reader. A report whose
every row is right but that the reader refuses as a whole (a balance transaction on two
lines, a payout in two currencies) is refused here with the reader's words (``refusal``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from reconciliation import bulk_sql as q
from reconciliation.ledger_copy import Window, copy_parts
from reconciliation.sources.errors import SourceError
from reconciliation.sources.stripe_csv import currency_error, repeated_error

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# DuckDB's share of the machine: its threads and the memory it may hold before it spills to
# the temporary directory
THREADS = 2
MEMORY_LIMIT = "512MB"


def lone_carriage_return(data: bytes, start: int) -> bool:
    """Whether a CSV without quotes has a carriage return not followed by a new line, from
    ``start``: pyarrow and the Python reader could count its lines otherwise."""
    return data.find(b"\r", start) >= 0 and data.count(b"\r", start) != data.count(b"\r\n", start)


def connect(tmp: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config={"threads": THREADS, "memory_limit": MEMORY_LIMIT,
                                  "temp_directory": str(tmp / "spill")})  # fmt: skip


def load_report(con: duckdb.DuckDBPyConnection, table: Any) -> None:
    """The typed report (``bulk_typing.typed``) as DuckDB's ``psp_rows``, scanned where it
    lies, and its view ``psp``."""
    con.register("psp_rows", table)
    con.execute(q.PSP_VIEW)


def refusal(con: duckdb.DuckDBPyConnection, filename: str, mixed: list[str]) -> SourceError | None:
    """What the reader says of a typed report (every row right) that it refuses as a whole
    (``stripe_csv._Once``), or None: the first line that repeats a balance transaction or is
    in another currency than its payout's first line (``mixed``: the payouts in two), the
    repetition named when a line is both. A row's line is its place plus 2: the header is
    line 1, and every line is a row (``bulk_typing.typed``: a blank line is a row of nothing,
    which is not typed)."""
    found: list[tuple[int, int, SourceError]] = []
    repeated = con.execute(q.REPEATED).fetchone()
    if repeated is not None and repeated[0]:
        at, txn, first = _one(con.execute(q.FIRST_REPEATED).fetchone())
        found.append((at, 0, repeated_error(filename, at + 2, txn, first + 2)))
    if mixed:
        got = con.execute(q.FIRST_OTHER_CURRENCY, [mixed]).fetchone()
        at, payout, cur, first, first_cur = _one(got)
        found.append((at, 1, currency_error(filename, at + 2, payout, cur, first + 2, first_cur)))
    return min(found, key=lambda f: f[:2])[2] if found else None


def _one(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    assert row is not None, "a report refused has the row that refuses it"
    return row


async def read_ledger(engine: AsyncEngine, prefix: Path, window: Window) -> None:
    """The ledger's payments of ``window`` handed over by PostgreSQL beside ``prefix``
    (``ledger_copy.ledger_parts``), written with ``COPY ... CSV`` from one snapshot (a
    repeatable-read, read-only transaction) on a pooled connection, and read by DuckDB
    (``bulk_sql.ledger_read``)."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        await conn.exec_driver_sql("SELECT 1")  # the snapshot is taken here
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("SET TRANSACTION READ ONLY")
        await copy_parts(raw, prefix, window)
        await conn.rollback()


async def settle(task: asyncio.Task[Any] | None) -> Any:
    """The result of a task whose work may not be wanted any more, or None when it failed
    (cancelling it mid-COPY would leave its pooled connection in doubt)."""
    if task is None:
        return None
    try:
        return await task
    except Exception:  # noqa: BLE001 (its rows are not wanted without it)
        return None
