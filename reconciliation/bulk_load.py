"""The bulk path's loading (``reconciliation.bulk``): the report copied and typed, and the
ledger's payments read, on as many PostgreSQL connections as there are parts of the work.

- A large report is cut at a line in the middle: its first half is copied and typed on the
  run's connection while the second half is on another, whose typed rows then come over
  in binary (``COPY``). Its row numbers start far above the first half's, so the rows keep
  the file's order.
- The ledger's payments are read on a third (``read_ledger``).

Each half is checked as the whole was: a row that fails a check, or a cast that fails,
sends the whole report back to the Python reader.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from reconciliation import bulk_sql as q
from reconciliation import repository as repo
from regie.kit.money import CURRENCIES

# a report larger than this is typed in two halves at once, on two connections
SPLIT_BYTES = 16 * 1024 * 1024
SECOND_HALF = 10**15  # the second half's first row number (the first half's is 1)

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
# the currencies' codes (lower and upper case), their minor units' factor and exponent, for
# recon_cur
_CODES = (
    [c.lower() for c in CURRENCIES] + list(CURRENCIES),
    [Decimal(10) ** e for e in CURRENCIES.values()] * 2,
    list(CURRENCIES.values()) * 2,
)


async def hashes(raw: Any) -> None:
    """The planner cannot guess how many ids appear once (a nested loop over a million rows
    would run for hours), and misjudges the ledger's joins: hashes, in memory."""
    await raw.execute("SET LOCAL enable_nestloop = off")
    await raw.execute("SET LOCAL work_mem = '256MB'")


def middle(data: bytes, start: int) -> int | None:
    """Where the second half starts (after a line in the middle), or None: one part."""
    if len(data) - start <= SPLIT_BYTES:
        return None
    end = data.find(b"\n", start + (len(data) - start) // 2)
    return None if end < 0 or end + 1 >= len(data) else end + 1


async def type_rows(raw: Any, part: memoryview, header: list[str], first: bool) -> bool:
    """Copies a part of the report into ``recon_csv`` and types it into ``recon_psp``; False
    when a row failed a check (or is blank, which the reader skips)."""
    n = len(header)
    await hashes(raw)
    await raw.execute(q.raw_table(n, 1 if first else SECOND_HALF))
    names = [f"c{i}" for i in range(n)]
    copied = await raw.copy_to_table("recon_csv", source=chunks(part), columns=names,
                                     format="csv", header=first)  # fmt: skip
    index = {name: i for i, name in enumerate(header)}
    col: dict[str, str] = {}
    for field, name in _FIELDS.items():
        if field in _TIMES and f"{name}_utc" in index:
            name = f"{name}_utc"
        col[field] = f"r.c{index[name]}" if name in index else "NULL::text"
    checked = {col[f] for f in _FIELDS if f != "descr"}
    others = [f"r.{c}" for c in names if f"r.{c}" not in checked]
    await raw.execute(q.CURRENCIES, *_CODES)
    await raw.execute("SET LOCAL DateStyle = 'ISO, YMD'")  # timestamps written back as read
    typed = await raw.execute(q.typed(col, others))
    return bool(typed.split()[-1] == copied.split()[-1])


async def type_half(engine: AsyncEngine, part: memoryview, header: list[str]) -> memoryview | None:
    """The second half typed on a connection of its own: its ``recon_psp`` rows in COPY's
    binary format, or None when the Python reader is to read the report."""
    out = io.BytesIO()

    async def sink(chunk: bytes) -> None:
        out.write(chunk)

    async with engine.connect() as conn:
        await conn.exec_driver_sql("SELECT 1")  # the temporary tables' transaction
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        try:
            if not await type_rows(raw, part, header, first=False):
                return None
            await raw.copy_from_table("recon_psp", output=sink, format="binary")
        except asyncpg.PostgresError:
            return None  # a cast refused a row: the Python reader says which
        finally:
            await conn.rollback()
    return out.getbuffer()  # no copy


async def read_ledger(engine: AsyncEngine, provider: str, since: Any, until: Any) -> memoryview:
    """The ledger's payments in ``[since, until)``, as COPY's binary rows for ``recon_led``."""
    out = io.BytesIO()

    async def sink(chunk: bytes) -> None:
        out.write(chunk)

    async with engine.connect() as conn:
        sql, params = repo.payments_query(conn, provider, since, until)
        await conn.exec_driver_sql("SELECT 1")
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await hashes(raw)  # three tables of a million rows: hashes, not a nested loop
        # one process: the report's halves keep the other CPUs busy meanwhile (parallel
        # workers would only add their own overhead to the total)
        await raw.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        await raw.copy_from_query(q.LEDGER_EXPORT.format(query=sql), *params, output=sink,
                                  format="binary")  # fmt: skip
        await conn.rollback()
    return out.getbuffer()  # no copy


async def chunks(data: bytes | memoryview, size: int = 1 << 20) -> AsyncIterator[memoryview]:
    """The data for COPY in slices of a megabyte (no copy: asyncpg takes a buffer)."""
    view = memoryview(data)
    for i in range(0, len(view), size):
        yield view[i : i + size]


async def settle(task: asyncio.Task[Any] | None) -> Any:
    """The result of a task whose work may not be wanted any more, or None when it failed
    (cancelling it mid-COPY would leave its pooled connection in doubt)."""
    if task is None:
        return None
    try:
        return await task
    except Exception:  # noqa: BLE001 (its rows are not wanted without it)
        return None
