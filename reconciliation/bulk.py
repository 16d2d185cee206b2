"""The bulk path: an uploaded Stripe report reconciled on PostgreSQL without a Python
object per line.

A year of a city is a million report lines and a million ledger payments. Read, typed and
matched one by one in Python, they cost minutes; here PostgreSQL does the bulk of it:

1. the report is copied raw (``COPY``) into a temporary table, checked and typed in SQL
   (``bulk_sql.typed``, as strict as the Python reader or stricter);
2. the ledger's payments are copied into another, with the Python path's query;
3. the report's charge lines and the ledger's payments are joined on the PSP's id, and the
   pairs the rounds would match with nothing else to say are *settled*
   (``records.Settled``): one line, one payment, the same amount, currency and fee, and no
   other line or payment naming that id;
4. what is left (the discrepancies to be, refunds, disputes, fees, payouts: a few
   thousand rows) comes back as matching's records, and the pure rounds run on it.

The result is the pure path's (``tests/reconciliation/test_bulk.py`` runs both), and so is
the inputs' checksum: PostgreSQL writes the same checksum lines, in the same order, and
Python hashes them as they stream by (``COPY TO``).

Whatever this path is not sure to read exactly as the Python reader does (a quoted field,
an amount with 20 digits, a time with an offset, a row that fails a check) sends the whole
report back to the Python reader: ``open`` returns None, and the reader then says what is
wrong, or reads the file its own way.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from reconciliation import bulk_sql as q
from reconciliation import repository as repo
from reconciliation.bulk_load import chunks, middle, read_ledger, settle, type_half, type_rows
from reconciliation.digest import head_text, ledger_text, tail_text
from reconciliation.normalise import from_report
from reconciliation.records import Inputs, LedgerItem, Payout, PspLine, Settled
from reconciliation.sources.errors import SourceError
from reconciliation.sources.stripe_csv import PayoutReportRow, _header


@dataclass(frozen=True)
class Window:
    """The ledger's payments a run reads: its PSP, booked in ``[since, until)``."""

    provider: str
    since: dt.datetime
    until: dt.datetime


class BulkReport:
    """A report loaded into PostgreSQL, on a connection of its own (its temporary tables
    live in its transaction, rolled back on ``close``). The ledger's payments of ``ledger``
    are read meanwhile on another connection (PostgreSQL then works on both at once)."""

    def __init__(self, conn: AsyncConnection, raw: Any) -> None:
        self.conn, self.raw = conn, raw
        self.lines = 0
        self.covered: dict[str, dt.datetime] = {}
        self.earliest: dt.datetime | None = None
        self.payouts: list[Payout] = []
        self._totals: list[tuple[str | None, str, int, int, int]] = []  # per payout, currency
        self._ledger: asyncio.Task[memoryview] | None = None
        self._window: Window | None = None

    @classmethod
    async def open(
        cls, engine: AsyncEngine, data: bytes, filename: str, ledger: Window | None = None
    ) -> BulkReport | None:
        """The report loaded and checked, or None: the Python reader is to read it."""
        columns = _columns(data, filename)
        if columns is None:
            return None
        conn = await engine.connect()
        reader = None
        if ledger is not None:
            reader = asyncio.create_task(read_ledger(engine, *_window(ledger)))
        loaded = False
        try:
            await conn.exec_driver_sql("SELECT 1")  # the temporary tables' transaction
            raw = (await conn.get_raw_connection()).driver_connection
            self = cls(conn, raw)
            loaded = await self._load(engine, data, columns)
        except asyncpg.PostgresError:
            pass  # COPY or a cast refused a row: the Python reader says which
        finally:
            if not loaded:
                await settle(reader)
                await conn.close()
        if not loaded:
            return None
        self._ledger, self._window = reader, ledger
        return self

    async def close(self) -> None:
        await settle(self._ledger)
        await self.conn.close()

    async def _load(self, engine: AsyncEngine, data: bytes, header: list[str]) -> bool:
        raw = self.raw
        view = memoryview(data)
        start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        mid = middle(data, start)
        second = None
        if mid is not None:  # the second half typed meanwhile on another connection
            second = asyncio.create_task(type_half(engine, view[mid:], header))
        try:
            typed = await type_rows(raw, view[start:mid], header, first=True)
        finally:
            rows = await settle(second)
        if not typed or (second is not None and rows is None):
            return False
        if rows is not None:
            await raw.copy_to_table("recon_psp", source=chunks(rows), format="binary")
        await raw.execute("ANALYZE recon_psp")  # temporary tables have no statistics else
        nets: dict[str, int] = {}
        first: dict[str, int] = {}
        for payout, cur, count, low, high, gross, net, ord_ in await raw.fetch(q.SUMMARY):
            self._totals.append((payout, cur, count, int(gross), int(net)))
            self.lines += count
            self.covered[cur] = max(self.covered.get(cur, high), high)
            self.earliest = low if self.earliest is None else min(self.earliest, low)
            if payout is not None:
                nets[payout] = nets.get(payout, 0) + int(net)
                first[payout] = min(first.get(payout, ord_), ord_)
        rows = {o: (c, w) for o, c, w in await raw.fetch(q.FIRST_ROWS, list(first.values()))}
        self.payouts = sorted(
            (Payout(pid, net, rows[first[pid]][0], rows[first[pid]][1].astimezone(dt.UTC).date())
             for pid, net in nets.items()),
            key=lambda p: (p.arrival_date, p.id),
        )  # fmt: skip
        return True

    async def match(
        self, provider: str, since: dt.datetime, until: dt.datetime
    ) -> tuple[list[PspLine], list[LedgerItem], Settled]:
        """Loads the ledger's payments in ``[since, until)``, settles the clean pairs, and
        gives back the rest of the report, the rest of the payments and what was settled."""
        raw = self.raw
        await raw.execute(q.LEDGER_TABLE)
        read, window, self._ledger = self._ledger, self._window, None
        wanted = Window(provider, since, until)
        if read is not None and window is not None and _covers(wanted, window):
            await raw.copy_to_table("recon_led", source=chunks(await read), format="binary")
            if since < window.since:  # the report starts earlier than the period
                await self._insert_ledger(Window(provider, since, window.since))
        else:
            await settle(read)
            await self._insert_ledger(wanted)
        await raw.execute("ANALYZE recon_led")
        await raw.execute(q.UNPAIRED)
        left = await raw.fetch(q.LEFT_PSP)
        psp = [_line(r) for r in left]
        ledger = [
            LedgerItem("payment", ref, gross, fee, cur, (entry,), at.astimezone(dt.UTC))
            for ref, entry, at, gross, cur, fee in await raw.fetch(q.LEFT_LEDGER)
        ]
        return psp, ledger, self._settled(left)

    def _settled(self, left: list[Any]) -> Settled:
        """What was settled: the report's totals less what is left of it."""
        count: dict[str, int] = {}
        gross: dict[str, int] = {}
        per_payout: dict[str, tuple[int, int]] = {}  # payout -> (count, net)

        def add(payout: str | None, cur: str, n: int, g: int, net: int) -> None:
            count[cur] = count.get(cur, 0) + n
            gross[cur] = gross.get(cur, 0) + g
            if payout is not None:
                c, s = per_payout.get(payout, (0, 0))
                per_payout[payout] = (c + n, s + net)

        for payout, cur, n, g, net in self._totals:
            add(payout, cur, n, g, net)
        for r in left:  # txn, payout, cat, pi, ch, src, cur, gross, fee, net, ...
            add(r[1], r[6], -1, -r[7], -r[9])
        matched = sum(count.values())
        return Settled(
            psp_lines=matched,
            ledger_items=matched,
            matched=matched,
            amount={cur: g for cur, g in gross.items() if count[cur]},
            nets={pid: net for pid, (n, net) in per_payout.items() if n},
        )

    async def _insert_ledger(self, w: Window) -> None:
        sql, params = repo.payments_query(self.conn, w.provider, w.since, w.until)
        await self.raw.execute(q.LEDGER_MORE.format(query=sql), *params)

    async def checksum(self, inputs: Inputs) -> str:
        """``digest.checksum`` of the whole inputs (settled pairs included)."""
        h = hashlib.sha256(head_text(inputs).encode())
        escaped = False

        async def sink(chunk: bytes) -> None:
            nonlocal escaped
            escaped = escaped or b"\\" in chunk  # the lines themselves have no backslash
            h.update(chunk)

        others = [i for i in inputs.ledger_items if i.kind != "payment"]
        await self.raw.copy_from_query(q.PSP_TEXT, output=sink)
        for text in ledger_text(i for i in others if i.kind < "payment"):
            h.update(text.encode())
        before = h.copy()
        await self.raw.copy_from_query(q.LEDGER_TEXT, output=sink)
        if escaped:  # COPY TO escaped a value (a backslash, a control character): read as is
            h = before
            async for (text,) in self.raw.cursor(q.LEDGER_TEXT, prefetch=10_000):
                h.update(f"{text}\n".encode())
        for text in ledger_text(i for i in others if i.kind > "payment"):
            h.update(text.encode())
        h.update(tail_text(inputs).encode())
        return h.hexdigest()


def _window(w: Window) -> tuple[str, dt.datetime, dt.datetime]:
    return w.provider, w.since, w.until


def _covers(wanted: Window, read: Window) -> bool:
    """The window read is the end of the window wanted (the rest is read in place)."""
    return (wanted.provider, wanted.until) == (read.provider, read.until) and (
        wanted.since <= read.since
    )


def _columns(data: bytes, filename: str) -> list[str] | None:
    """The header, when the bulk path reads the file exactly as the Python reader does: no
    quote (quoting rules differ in corner cases), no NUL, a header the reader accepts."""
    if b'"' in data or b"\x00" in data:
        return None
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    end = data.find(b"\n", start)
    if end < 0:
        return None
    try:
        first = data[start:end].decode("utf-8").removesuffix("\r")
        columns, _index = _header(csv.reader([first], strict=True), filename)
    except (UnicodeDecodeError, csv.Error, SourceError):
        return None
    return columns


def _line(r: Any) -> PspLine:
    txn, payout, cat, pi, ch, src, cur, gross, fee, net, created, eff, descr = r
    return from_report(
        PayoutReportRow(
            balance_transaction_id=txn,
            payout_id=payout,
            payout_effective_at=None if eff is None else eff.astimezone(dt.UTC),
            created=created.astimezone(dt.UTC),
            available_on=None,
            currency=cur,
            gross=gross,
            fee=fee,
            net=net,
            reporting_category=cat,
            source_id=src,
            charge_id=ch,
            payment_intent_id=pi,
            description=(descr or "").strip() or None,
            line=0,
        )
    )
