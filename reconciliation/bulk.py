"""The bulk path: an uploaded Stripe report reconciled without a Python object per line.

A year of a city is a million report lines and a million ledger payments. Read, typed and
matched one by one in Python, they cost minutes; here DuckDB, an analytical engine in this
process, does the bulk of it while PostgreSQL hands over the ledger:

1. the report is read by pyarrow as text columns, checked and typed by Arrow's kernels
   (``bulk_typing.typed``, as strict as the Python reader or stricter) and scanned by DuckDB
   where it lies, while PostgreSQL
   writes the ledger's payments of the run's window to a file (``COPY``, CSV, from the one
   table the ledger keeps them in with their PSP's id and fee: ``ledger_psp_postings``);
2. DuckDB joins the report's charge lines and the ledger's payments on the PSP's id, and
   *settles* the pairs the rounds would match with nothing else to say
   (``records.Settled``): one line, one payment, the same amount, currency and fee, and no
   other line or payment naming that id;
3. what is left (the discrepancies to be, refunds, disputes, fees, payouts: a few
   thousand rows) comes back as matching's records, and the pure rounds run on it.

The result is the pure path's (``tests/reconciliation/test_bulk.py`` runs both), and so is
the inputs' checksum: the report counts by its file's SHA-256, and DuckDB writes the ledger's
payments as the same checksum lines, in the same order, to a file that Python hashes.

Whatever this path is not sure to read exactly as the Python reader does (a quoted field,
an amount with 20 digits, a time with an offset, a row that fails a check), or would read
at a cost out of all proportion (a header of thousands of columns), sends the whole
report back to the Python reader: ``open`` returns None, and the reader then says what is
wrong, or reads the file its own way. A report of rows all typed that the reader refuses as
a whole (a balance transaction on two lines, a payout in two currencies) ``open`` refuses
itself, with the reader's words and line, before the run stores anything. The report is
typed from the bytes in memory (no copy of it on a disk); the ledger's files live in a
private temporary directory, removed on ``close``.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import datetime as dt
import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.ext.asyncio import AsyncEngine

from reconciliation import bulk_sql as q
from reconciliation.bulk_load import (
    connect,
    load_report,
    lone_carriage_return,
    read_ledger,
    refusal,
    settle,
)
from reconciliation.bulk_typing import typed
from reconciliation.digest import head_text, ledger_text, psp_text, tail_text
from reconciliation.ledger_copy import LedgerPrefetch, Window, ledger_parts
from reconciliation.ledger_reads import entry_times
from reconciliation.normalise import from_report, report_payouts
from reconciliation.records import Inputs, LedgerItem, Payout, PspLine, Settled
from reconciliation.sources.errors import SourceError
from reconciliation.sources.stripe_csv import PayoutReportRow, _header


class BulkReport:
    """A report loaded into DuckDB (in memory, spilling to its temporary directory), with
    the ledger's payments of ``ledger`` written meanwhile by PostgreSQL on a connection of
    its own. ``close`` drops DuckDB's tables and removes the files."""

    def __init__(self, engine: AsyncEngine, tmp: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.engine, self.tmp, self.con = engine, tmp, con
        self.lines = 0
        self.covered: dict[str, dt.datetime] = {}
        self.earliest: dt.datetime | None = None
        self.payouts: list[Payout] = []
        self._totals: list[tuple[str | None, str, int, int, int]] = []  # per payout, currency
        self.table: Any = None  # the typed report (``bulk_typing.typed``)
        self._ledger: asyncio.Task[Path] | None = None  # where the ledger's parts are
        self._window: Window | None = None
        # the ledger's checksum lines being sorted and written (``_write_lines``), once matched
        self._lines: asyncio.Task[Path] | None = None

    @classmethod
    async def open(
        cls,
        engine: AsyncEngine,
        data: bytes,
        filename: str,
        ledger: Window | None = None,
        prefetch: LedgerPrefetch | None = None,
    ) -> BulkReport | None:
        """The report loaded and checked, or None: the Python reader is to read it; raises
        ``SourceError`` for a report the reader refuses as a whole (``_load``). The ledger's
        payments of ``ledger`` are read meanwhile, or taken from ``prefetch`` when it read
        that very window."""
        shape = layout(data, filename)
        if shape is None:
            return None
        columns, start = shape
        tmp = Path(tempfile.mkdtemp(prefix="regie-recon-"))
        reader = None
        if ledger is not None:
            reader = asyncio.create_task(_ledger(engine, tmp / "ledger", ledger, prefetch))
        con: duckdb.DuckDBPyConnection | None = None
        loaded = False
        try:
            con = await asyncio.to_thread(connect, tmp)
            self = cls(engine, tmp, con)
            loaded = await asyncio.to_thread(self._load, data, start, columns, filename)
        except duckdb.Error:
            pass  # DuckDB could not read the typed rows: the Python reader reads the report
        finally:
            if not loaded:
                await settle(reader)
                if con is not None:
                    con.close()
                shutil.rmtree(tmp, ignore_errors=True)
        if not loaded:
            return None
        self._ledger, self._window = reader, ledger
        return self

    async def close(self) -> None:
        await settle(self._ledger)
        await settle(self._lines)
        self.con.close()
        self.table = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _load(self, data: bytes, start: int, header: list[str], filename: str) -> bool:
        """On a worker thread (pyarrow and DuckDB let go of the GIL): the report typed and
        summed; raises ``SourceError`` as the reader would for a report whose rows are right but that
        repeats a balance transaction or has a payout in two currencies."""
        table = typed(memoryview(data)[start:], header)
        if table is None:
            return False
        load_report(self.con, table)
        self.table = table  # what DuckDB's ``psp_rows`` scans, kept until ``close``
        nets: dict[str, int] = {}
        first: dict[str, int] = {}
        mixed: list[str] = []  # the payouts in two currencies
        for payout, cur, count, low, high, gross, net, ord_ in self.con.execute(
            q.SUMMARY
        ).fetchall():
            self._totals.append((payout, cur, count, int(gross), int(net)))
            self.lines += count
            high, low = _utc(high), _utc(low)
            self.covered[cur] = max(self.covered.get(cur, high), high)
            self.earliest = low if self.earliest is None else min(self.earliest, low)
            if payout is not None:
                if payout in nets:
                    mixed.append(payout)
                nets[payout] = nets.get(payout, 0) + int(net)
                first[payout] = min(first.get(payout, ord_), ord_)
        refused = refusal(self.con, filename, mixed)
        if refused is not None:
            raise refused
        got = self.con.execute(q.FIRST_ROWS, [list(first.values())]).fetchall()
        at = {o: (c, _utc(w)) for o, c, w in got}
        back = {pid: int(n) for pid, n in self.con.execute(q.RETURNED).fetchall()}
        self.payouts = report_payouts(
            nets, {pid: (at[o][0], at[o][1].date()) for pid, o in first.items()}, back
        )
        return True

    async def match(
        self, provider: str, since: dt.datetime, until: dt.datetime
    ) -> tuple[list[PspLine], list[LedgerItem], Settled]:
        """Loads the ledger's payments in ``[since, until)``, settles the clean pairs, and
        gives back the rest of the report, the rest of the payments and what was settled."""
        read, window, self._ledger = self._ledger, self._window, None
        wanted = Window(provider, since, until)
        parts: list[Path] = []  # each read's prefix (``ledger_copy.ledger_parts``)
        if read is not None and window is not None and _covers(wanted, window):
            parts.append(await read)  # a failure here is the run's: the ledger is unreadable
            if since < window.since:  # the report starts earlier than the period
                parts.append(self.tmp / "earlier")
                await read_ledger(self.engine, parts[-1], Window(provider, since, window.since))
            if until > window.until:  # the report ends later than the period
                parts.append(self.tmp / "later")
                await read_ledger(self.engine, parts[-1], Window(provider, window.until, until))
        else:
            await settle(read)
            parts.append(self.tmp / "window")
            await read_ledger(self.engine, parts[-1], wanted)
        psp, left, settled = await asyncio.to_thread(self._match, parts)
        # DuckDB sorts and writes the payments' checksum lines on its threads now, while the
        # run reads the bank and matches what is left in Python (``checksum`` hashes them)
        self._lines = asyncio.create_task(asyncio.to_thread(self._write_lines))
        # the payments left over, with their instants, in the order the pure path reads them
        # (instant, entry, amount, currency: two lines of an entry equal in these are the same)
        async with self.engine.connect() as conn:
            at = await entry_times(conn, (entry for _ref, entry, *_ in left))
        left.sort(key=lambda r: (at[r[1]], r[1], r[2], r[3]))  # ref, entry, gross, cur, fee
        ledger = [
            LedgerItem("payment", ref, gross, fee, cur, (entry,), at[entry])
            for ref, entry, gross, cur, fee in left
        ]
        return psp, ledger, settled

    def _match(self, parts: list[Path]) -> tuple[list[PspLine], list[Any], Settled]:
        con = self.con
        # the rows of every read, one after the other (numbered by ``LEDGER_VIEW``)
        files = [ledger_parts(p) for p in parts]
        con.execute(f"CREATE TABLE led_rows AS {' UNION ALL '.join(map(q.ledger_read, files))}")
        con.execute(q.LEDGER_VIEW)
        for f in files:
            for path in f.values():
                path.unlink()
        con.execute(q.UNPAIRED)
        left = con.execute(q.LEFT_PSP).fetchall()
        psp = [_line(r) for r in left]
        ledger = con.execute(q.LEFT_LEDGER).fetchall()  # ref, entry, gross, currency, fee
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

    def _write_lines(self) -> Path:
        """On a worker thread, on a cursor of its own: the ledger's payments' checksum lines
        in order, in a file (``bulk_sql.lines_file``)."""
        path = self.tmp / "led.lines"
        cursor = self.con.cursor()
        try:
            cursor.execute(q.lines_file(q.LEDGER_LINE, q.LEDGER_ORDER, "led", path))
        finally:
            cursor.close()
        return path

    async def checksum(self, inputs: Inputs) -> str:
        """``digest.checksum`` of the whole inputs (settled pairs included)."""
        assert self._lines is not None, "checksum comes after match"
        lines, self._lines = self._lines, None
        return await asyncio.to_thread(self._checksum, inputs, await lines)

    def _checksum(self, inputs: Inputs, lines: Path) -> str:
        assert inputs.psp_file_sha256 is not None  # the bulk path reads a file
        h = hashlib.sha256(head_text(inputs).encode())
        for text in psp_text(inputs):
            h.update(text.encode())
        others = [i for i in inputs.ledger_items if i.kind != "payment"]
        for text in ledger_text(i for i in others if i.kind < "payment"):
            h.update(text.encode())
        h = self._hash(h, lines, q.LEDGER_LINE, q.LEDGER_ORDER, "led")
        for text in ledger_text(i for i in others if i.kind > "payment"):
            h.update(text.encode())
        h.update(tail_text(inputs).encode())
        return h.hexdigest()

    def _hash(self, h: Any, path: Path, line: str, order: str, table: str) -> Any:
        """``h`` fed a table's checksum lines in order: from the file DuckDB wrote them to
        (``path``: sorted and written on its threads, no Python string a line), or, when that
        file shows a quoted line, from blocks of text."""
        try:
            trial = h.copy()
            if _hash_unquoted(trial, path):
                return trial
        finally:
            path.unlink(missing_ok=True)
        cursor = self.con.execute(q.text(line, order, table))
        while (block := cursor.fetchone()) is not None:
            h.update(str(block[1]).encode())
        return h


def _hash_unquoted(h: Any, path: Path) -> bool:
    """Feeds ``h`` the file at ``path``; False (``h`` is then spoiled) as soon as the file
    holds a quote or a carriage return: DuckDB quoted a line, or ended lines otherwise."""
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            if b'"' in chunk or b"\r" in chunk:
                return False
            h.update(chunk)
    return True


async def _ledger(
    engine: AsyncEngine, prefix: Path, window: Window, prefetch: LedgerPrefetch | None
) -> Path:
    """Where the ledger's parts of ``window`` are once written: the prefetch's, when it read
    that window and succeeded, else ``prefix``, read now."""
    if prefetch is not None and prefetch.window == window and await prefetch.wait():
        return prefetch.prefix
    await read_ledger(engine, prefix, window)
    return prefix


def _covers(wanted: Window, read: Window) -> bool:
    """The window read is within the window wanted (the rest is read in place)."""
    return (
        wanted.provider == read.provider
        and wanted.since <= read.since
        and read.until <= wanted.until
    )


def layout(data: bytes, filename: str) -> tuple[list[str], int] | None:
    """The report's header and where its text starts (after a byte order mark), when the bulk
    path may read it (``_columns``, ``bulk_load.lone_carriage_return``); else None: the
    Python reader is to read it."""
    columns = _columns(data, filename)
    if columns is None:
        return None
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    return None if lone_carriage_return(data, start) else (columns, start)


# the most columns a report read in bulk has: Stripe's report has a few dozen (its optional
# columns and metadata included); pyarrow makes an Arrow column of each, at a cost of kilobytes
# a column a block of the file, so 20 MB of a header of 100,000 columns took 12 s and 2.3 GB
# to read, against a tenth of a second for the Python reader, which reads such a report
MAX_COLUMNS = 1000


def _columns(data: bytes, filename: str) -> list[str] | None:
    """The header, when the bulk path reads the file exactly as the Python reader does: no
    quote (quoting rules differ in corner cases), no NUL, a header the reader accepts, of at
    most ``MAX_COLUMNS`` columns."""
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
    return columns if len(columns) <= MAX_COLUMNS else None


def _utc(at: dt.datetime) -> dt.datetime:
    """DuckDB's TIMESTAMP (naive, read as UTC) as an aware instant."""
    return at.replace(tzinfo=dt.UTC)


def _line(r: Any) -> PspLine:
    txn, payout, cat, pi, ch, src, cur, gross, fee, net, created, eff, descr = r
    return from_report(
        PayoutReportRow(
            balance_transaction_id=txn,
            payout_id=payout,
            payout_effective_at=None if eff is None else _utc(eff),
            created=_utc(created),
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
