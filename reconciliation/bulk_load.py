"""The bulk path's loading (``reconciliation.bulk``): the report read and typed by DuckDB in
this process while PostgreSQL hands over the ledger's payments.

- The report's bytes are put where DuckDB reads them (``report_file``: in memory on Linux,
  else a private temporary directory), read by DuckDB as text columns and typed and checked
  there (``bulk_sql.typed``), on a worker thread: DuckDB releases the GIL and uses the CPUs
  it is given.
- Meanwhile PostgreSQL writes the ledger's payments of the run's window with ``COPY ... CSV``
  into the same directory (``read_ledger``, or before the run started: ``ledger_copy``): its
  own process, its own CPU. One read of one table (``ledger_psp_postings``), no join.

A row that fails a check, a DuckDB read that fails (a row with another number of fields,
bytes that are not UTF-8), or a file whose lines DuckDB would count otherwise (a blank line,
a lone carriage return) sends the whole report back to the Python reader. A report whose
every row is right but that the reader refuses as a whole (a balance transaction on two
lines, a payout in two currencies) is refused here with the reader's words (``refusal``).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from reconciliation import bulk_sql as q
from reconciliation.ledger_copy import Window, copy_parts
from reconciliation.sources.errors import SourceError
from reconciliation.sources.stripe_csv import currency_error, repeated_error
from regie.kit.money import CURRENCIES

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# DuckDB's share of the machine: its threads and the memory it may hold before it spills to
# the temporary directory
THREADS = 2
MEMORY_LIMIT = "512MB"

# matching's field -> the report's column (times: the ``_utc`` column when there is one)
_FIELDS = {
    "txn": "balance_transaction_id",
    "payout": "automatic_payout_id",
    "eff": "automatic_payout_effective_at",
    "created": "created",
    "avail": "available_on",
    "cur": "currency",
    "gross": "gross",
    "fee": "fee",
    "net": "net",
    "cat": "reporting_category",
    "src": "source_id",
    "ch": "charge_id",
    "pi": "payment_intent_id",
    "descr": "description",
}
_TIMES = ("eff", "created", "avail")


def lone_carriage_return(data: bytes, start: int) -> bool:
    """Whether a CSV without quotes has a carriage return not followed by a new line, from
    ``start``: DuckDB and the Python reader could count its lines otherwise."""
    return data.find(b"\r", start) >= 0 and data.count(b"\r", start) != data.count(b"\r\n", start)


def rows_in(data: bytes, start: int) -> int:
    """The data rows of a CSV without quotes from ``start``: its lines after the header."""
    lines = data.count(b"\n", start) + (0 if data.endswith(b"\n") or len(data) == start else 1)
    return max(lines - 1, 0)


class RowCount:
    """``rows_in`` counted on a thread of its own, while DuckDB reads the file: 0.06 s of a
    year's report (3 December) off the run's way (counting holds the GIL, DuckDB does not)."""

    def __init__(self, data: bytes, start: int) -> None:
        self._rows = -1
        self._thread = threading.Thread(
            target=self._count, args=(data, start), name="regie-row-count", daemon=True
        )
        self._thread.start()

    def _count(self, data: bytes, start: int) -> None:
        self._rows = rows_in(data, start)

    def __call__(self) -> int:
        """The count, once done."""
        self._thread.join()
        return self._rows


@contextmanager
def report_file(tmp: Path, data: memoryview) -> Iterator[Path]:
    """A path where DuckDB reads ``data``, removed on leaving: an anonymous file in memory
    (``memfd_create``, read through ``/proc/self/fd``) where Linux offers one, else
    ``report.csv`` in ``tmp``. A year's report is 174 MB: written to an ext4 file it took
    0.04 to 0.5 s (the first write after a while the slowest), to memory 0.07 s; and no copy
    of a citizen's payments lands on a disk."""
    fd = _memfd()
    if fd is None:
        path = tmp / "report.csv"
        try:
            path.write_bytes(data)
            yield path
        finally:
            path.unlink(missing_ok=True)
        return
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
        yield Path(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def _memfd() -> int | None:
    """A new anonymous file in memory, or None where there is none to be had (not Linux, or
    no ``/proc`` to name it by)."""
    create = getattr(os, "memfd_create", None)
    if create is None:
        return None
    try:
        fd: int = create("regie-report", os.MFD_CLOEXEC)
    except OSError:
        return None
    if not os.path.exists(f"/proc/self/fd/{fd}"):
        os.close(fd)
        return None
    return fd


def connect(tmp: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": THREADS, "memory_limit": MEMORY_LIMIT,
                                 "temp_directory": str(tmp / "spill")})  # fmt: skip
    con.execute(q.CURRENCIES, [list(CURRENCIES)])  # one statement: not one a code
    return con


def type_report(
    con: duckdb.DuckDBPyConnection, path: Path, header: list[str], rows: Callable[[], int]
) -> bool:
    """Reads the report at ``path`` into the table ``psp``, typed; False when a row failed a
    check or the file has another number of rows than ``rows()`` (a blank line, which the
    reader skips). Raises ``duckdb.Error`` when DuckDB cannot read it."""
    index = {name: i for i, name in enumerate(header)}
    col: dict[str, str] = {}
    for field, name in _FIELDS.items():
        if field in _TIMES and f"{name}_utc" in index:
            name = f"{name}_utc"
        col[field] = f"c{index[name]}" if name in index else "CAST(NULL AS VARCHAR)"
    checked = {col[f] for f in _FIELDS if f != "descr"}
    others = [f"c{i}" for i in range(len(header)) if f"c{i}" not in checked]
    con.execute(q.typed(q.read(str(path), len(header)), col, others, CURRENCIES))
    con.execute(q.PSP_VIEW)
    got = con.execute(q.REFUSED).fetchone()
    return got is not None and got == (0, rows())


def refusal(con: duckdb.DuckDBPyConnection, filename: str, mixed: list[str]) -> SourceError | None:
    """What the reader says of a typed report (every row right) that it refuses as a whole
    (``stripe_csv._Once``), or None: the first line that repeats a balance transaction or is
    in another currency than its payout's first line (``mixed``: the payouts in two), the
    repetition named when a line is both. A row's line is its place plus 2: the header is
    line 1, and the bulk path reads only files of one row a line (``rows_in``)."""
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
