"""The bulk path's parts (``reconciliation.bulk_load``): the ledger's payments are written by
PostgreSQL on another connection while Arrow types the report. A report that starts before
the period widens the window (the earlier slice is read as well), a window the reader did not
read is read on the spot, Arrow types each amount, time and currency as the Python reader
does (or sends the report back to it), keeps the file's order, and a report sent back to
the Python reader stores nothing and leaves no connection and no file behind. The payments
left to the rounds get their instants by entry id, in the pure path's order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from reconciliation import ledger_reads
from reconciliation.bulk import BulkReport
from reconciliation.ledger_copy import Window, window_for
from reconciliation.ledger_reads import entry_times, ledger_items
from reconciliation.models import BankStatementImport, ReconRun
from reconciliation.sources.errors import SourceError
from tests.reconciliation.test_bulk import DAY0, PAYOUTS, Month, _book, _run

pytestmark = pytest.mark.postgres

EARLY = dt.datetime(2026, 9, 15, 10, tzinfo=dt.UTC)  # 16 days before the period


async def test_a_report_that_starts_before_the_period_reads_the_earlier_ledger(
    app: Any, bulk_calls: list[bool]
) -> None:
    m = Month(200, 6)
    # a line and its payment two weeks before the period, and a payment a few days before
    # that one with no line: both in the window widened to the report's first line
    m.payments.append(("pay_early", "pi_early", 1234, 42, EARLY))
    m.ledger_amounts["pay_early"] = (1234, "EUR")
    m._line(0, "txn_early", EARLY, 1234, 42, "charge", "ch_early", "ch_early", "pi_early")
    m.payments.append(("pay_lost", "pi_lost", 999, 39, EARLY - dt.timedelta(days=5)))
    m.ledger_amounts["pay_lost"] = (999, "EUR")
    await _book(app, m)
    pure = await _run(app, False, m.csv(), m.camt())
    bulk = await _run(app, True, m.csv(), m.camt())
    assert bulk_calls == [True]
    assert bulk == pure
    # every payment is read (the early ones from the slice read in place), and the payouts
    assert pure["summary"]["ledger_items"] == len(m.payments) + PAYOUTS


async def test_a_window_the_reader_did_not_read_is_read_in_place(app: Any) -> None:
    m = Month(120, 7)
    await _book(app, m)
    engine = app.state.db.engine
    since = dt.datetime(2026, 9, 24, tzinfo=dt.UTC)
    until = dt.datetime(2026, 11, 8, tzinfo=dt.UTC)
    got = []
    cut = dt.datetime(2026, 10, 4, tzinfo=dt.UTC)  # the month's payments run to 9 October
    windows = (
        None,  # read in place
        Window("stripe", since, until),  # read beside the report
        Window("stripe", cut, until),  # beside, and the earlier slice in place
        Window("stripe", since, cut),  # not the window wanted: in place
    )
    for ledger in windows:
        bulk = await BulkReport.open(engine, m.csv(), "r.csv", ledger)
        assert bulk is not None
        try:
            psp, items, settled = await bulk.match("stripe", since, until)
        finally:
            await bulk.close()
        got.append(
            ([x.id for x in psp], sorted((i.ref, i.gross, i.entry_ids) for i in items), settled)
        )
    assert got[0] == got[1] == got[2] == got[3]
    assert got[0][2].matched > 100
    assert engine.pool.checkedout() == 0


async def _refused(app: Any, bulk: bool, data: bytes, camt: bytes) -> str:
    """The error a run on this report raises, on the Python path or the bulk one."""
    with pytest.raises(SourceError) as exc:
        await _run(app, bulk, data, camt)
    return str(exc.value)


async def _count(app: Any, model: Any) -> int:
    async with app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_refused_report_stores_nothing_and_leaves_no_connection(
    app: Any, bulk_calls: list[bool]
) -> None:
    m = Month(40, 8)
    await _book(app, m)
    data = m.csv().replace(b",eur,", b",xyz,", 1)  # an unknown currency on one line
    runs, imports = await _count(app, ReconRun), await _count(app, BankStatementImport)
    errors = [await _refused(app, bulk, data, m.camt()) for bulk in (False, True)]
    assert errors[0] == errors[1]
    assert "unknown currency" in errors[0]
    assert bulk_calls == []  # sent back to the Python reader before any match
    assert (await _count(app, ReconRun), await _count(app, BankStatementImport)) == (runs, imports)
    assert app.state.db.engine.pool.checkedout() == 0


async def test_a_currency_in_mixed_case_is_typed_as_the_python_reader_types_it(
    app: Any, bulk_calls: list[bool]
) -> None:
    m = Month(60, 9)
    await _book(app, m)
    data = m.csv().replace(b",eur,", b",Eur,", 1)  # EUR to the reader (str.upper), and in bulk
    assert data != m.csv()
    pure = await _run(app, False, data, m.camt())
    bulk = await _run(app, True, data, m.camt())
    assert bulk_calls == [True]
    assert bulk == pure


@pytest.mark.parametrize("where", ["first", "last"])
async def test_a_bad_row_anywhere_is_named_as_the_python_reader_names_it(
    app: Any, where: str, bulk_calls: list[bool]
) -> None:
    m = Month(400, 10)
    await _book(app, m)
    data = m.csv()
    lines = data.split(b"\n")
    at = 1 if where == "first" else len(lines) - 2  # pyarrow reads the file in parallel blocks
    fields = lines[at].split(b",")
    fields[3] = b"2026-10-32 10:00:00"  # created: no such day
    data = data.replace(lines[at], b",".join(fields))
    errors = [await _refused(app, bulk, data, m.camt()) for bulk in (False, True)]
    assert errors[0] == errors[1]
    assert "column created" in errors[0]
    assert bulk_calls == []
    assert app.state.db.engine.pool.checkedout() == 0


async def test_an_amount_with_a_zero_past_its_currencys_places_is_typed_as_the_reader_types_it(
    app: Any, bulk_calls: list[bool]
) -> None:
    """``1.230`` euros is the reader's 123 cents: the bulk path types it so too (Arrow's exact
    decimal cast at the currency's scale), and the run is the pure path's."""
    m = Month(60, 11)
    await _book(app, m)
    lines = m.csv().split(b"\n")
    fields = lines[4].split(b",")
    assert b"." in fields[7]
    fields[7] += b"0"  # the fee, "1.23" -> "1.230": the same amount
    data = m.csv().replace(lines[4], b",".join(fields))
    pure = await _run(app, False, data, m.camt())
    bulk = await _run(app, True, data, m.camt())
    assert bulk_calls == [True]
    assert bulk == pure
    assert pure["summary"]["matched_count"] > 40


async def test_an_amount_finer_than_its_currency_is_refused_as_the_reader_refuses_it(
    app: Any, bulk_calls: list[bool]
) -> None:
    m = Month(60, 11)
    await _book(app, m)
    lines = m.csv().split(b"\n")
    fields = lines[4].split(b",")
    fields[6] += b"1" if b"." in fields[6] else b".001"  # the gross: a place past the cent
    data = m.csv().replace(lines[4], b",".join(fields))
    errors = [await _refused(app, bulk, data, m.camt()) for bulk in (False, True)]
    assert errors[0] == errors[1]
    assert "column gross" in errors[0]
    assert bulk_calls == []


async def test_the_payments_left_over_carry_their_instants_in_the_pure_paths_order(
    app: Any,
) -> None:
    """PostgreSQL hands over the ledger's payments without their instants; the payments
    left to the rounds get theirs by entry id, to the microsecond, in the order the pure
    path reads them: by instant, then by entry (two booked at the same instant, read back
    in the other order)."""
    m = Month(120, 8)
    m.payments = [(pid, pi, amount, fee, at + dt.timedelta(microseconds=123457))
                  for pid, pi, amount, fee, at in m.payments]  # fmt: skip
    tie = DAY0 + dt.timedelta(days=3, microseconds=654321)
    for pid in ("pay_zz", "pay_aa"):  # in no report
        m.payments.append((pid, f"pi_{pid}", 700, 35, tie))
        m.ledger_amounts[pid] = (700, "EUR")
    await _book(app, m)
    window = window_for("stripe", dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    bulk = await BulkReport.open(app.state.db.engine, m.csv(), "r.csv", window)
    assert bulk is not None
    try:
        _psp, left, _settled = await bulk.match("stripe", window.since, window.until)
    finally:
        await bulk.close()
    async with app.state.db.engine.connect() as conn:
        pure = [i async for i in ledger_items(conn, "stripe", window.since, window.until)]
    kept = {(i.ref, i.entry_ids) for i in left}
    assert left == [i for i in pure if i.kind == "payment" and (i.ref, i.entry_ids) in kept]
    assert [i.ref for i in left if i.effective_at == tie] == ["pi_pay_aa", "pi_pay_zz"]
    assert len(left) >= 5 and all(i.effective_at.microsecond for i in left)


async def test_entry_times_reads_in_chunks_and_names_an_entry_it_cannot_find(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = Month(20, 9)
    await _book(app, m)
    monkeypatch.setattr(ledger_reads, "_IDS_A_QUERY", 2)  # five ids: three statements
    wanted = {f"je_{pid}": at for pid, _pi, _amount, _fee, at in m.payments[:5]}
    async with app.state.db.engine.connect() as conn:
        assert await entry_times(conn, reversed(list(wanted))) == wanted
        with pytest.raises(LookupError, match="je_nowhere"):
            await entry_times(conn, [*wanted, "je_nowhere"])


async def _rewrite_backwards(app: Any) -> None:
    """The ledger's lines and PSP postings written again in the opposite order, as a restore
    or a ``VACUUM FULL`` may leave a table: the same rows, another order on disk (triggers
    off)."""
    async with app.state.db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute("SET session_replication_role = replica")
        for table in ("ledger_lines", "ledger_psp_postings"):
            await raw.execute(f"CREATE TEMP TABLE rows_copy AS SELECT * FROM {table}")
            await raw.execute(f"DELETE FROM {table}")
            await raw.execute(f"INSERT INTO {table} SELECT * FROM rows_copy ORDER BY id DESC")
            await raw.execute("DROP TABLE rows_copy")
        await raw.execute("SET session_replication_role = origin")
        await conn.commit()


async def test_the_same_inputs_give_the_same_checksum_whatever_order_the_lines_are_stored_in(
    app: Any,
) -> None:
    """An entry with two lines on the PSP's account is two of the ledger's payments with
    the same reference and entry: on either path they come in the order of their amounts
    and currencies (two lines equal in both are interchangeable), not in the order
    PostgreSQL happens to keep them in."""
    m = Month(60, 41)
    await _book(app, m)
    entry = f"je_{m.payments[7][0]}"
    async with app.state.db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute("SET session_replication_role = replica")
        await raw.execute(
            "INSERT INTO ledger_lines (entry_id, position, account, currency, debit, credit) "
            "VALUES ($1, 3, 'assets:psp:stripe', 'EUR', 11, 0)",
            entry,
        )  # a second line on the PSP's account, kept as a second PSP posting
        await raw.execute(
            "INSERT INTO ledger_psp_postings (entry_id, kind, account, reference, effective_at,"
            " amount, currency, fee) SELECT entry_id, kind, account, reference, effective_at,"
            " 11, currency, fee FROM ledger_psp_postings WHERE entry_id = $1",
            entry,
        )
        await raw.execute("SET session_replication_role = origin")
        await conn.commit()
    runs = [await _run(app, bulk, m.csv(), m.camt()) for bulk in (False, True)]
    await _rewrite_backwards(app)
    runs += [await _run(app, bulk, m.csv(), m.camt()) for bulk in (False, True)]
    assert runs[1] == runs[0]  # bulk and pure
    assert runs[2] == runs[0]  # pure, lines stored backwards
    assert runs[3] == runs[0]  # bulk, lines stored backwards
