"""An export reads one snapshot of the ledger: the entries committed before it began, all of
them and no other, whatever is posted while it reads its pages (1,000 entries each)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import pytest
from sqlalchemy import text

from ledger.posting import transfer
from ledger.service import NewEntry, post, post_many
from regie.kit.database import utcnow

LO, HI = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


async def _post(app: Any, key: str) -> None:
    async with app.state.db.session() as s:
        await post(s, source_key=key, kind="test",
                   postings=transfer("assets:bank:main", "income:u", 100, "EUR"))  # fmt: skip
        await s.commit()


async def _post_pages(app: Any, count: int) -> None:
    """``count`` entries of 100 in one transaction (more than a page of the export)."""
    now = utcnow()
    async with app.state.db.session() as s:
        await s.execute(text("SELECT 1"))  # (COPY runs inside a begun transaction)
        await post_many(s, [
            NewEntry(f"invoice:s{i}:issued", "invoice_issued",
                     transfer("receivable:u", "income:u", 100, "EUR"), now)
            for i in range(count)
        ])  # fmt: skip
        await s.commit()


async def _entry_ids(app: Any) -> set[str]:
    async with app.state.db.session() as s:
        return set((await s.execute(text("SELECT id FROM ledger_entries"))).scalars())


async def test_an_entry_posted_while_the_export_reads_is_not_in_it(app: Any) -> None:
    """The export's first page is read, then an entry is posted: the file is the ledger of
    when it began (each page was read in its own session: the second page held the entry
    posted after the export began, a file of no moment of the ledger)."""
    await _post_pages(app, 1_001)
    before = await _entry_ids(app)
    lines = app.state.ledger.export_lines(LO, HI)
    read = [await anext(lines)]
    await _post(app, "posted-while-exporting")
    read += [x async for x in lines]
    assert {x.entry_id for x in read} == before
    assert len(read) == 2 * len(before)
    assert sum(x.debit for x in read) == sum(x.credit for x in read) == 100 * len(before)


@pytest.mark.postgres
async def test_an_export_misses_no_entry_committed_before_a_later_one_it_holds(app: Any) -> None:
    """A transaction takes an entry's number, the export reads its first page of entries
    numbered after it, the transaction commits and another entry is posted. The file holds
    neither (both committed after it began): it held the later one and missed the earlier,
    numbered before the page it was reading."""
    async with app.state.db.session() as slow:
        await post(slow, source_key="slow", kind="test",
                   postings=transfer("assets:bank:main", "income:u", 100, "EUR"))  # fmt: skip
        await _post_pages(app, 1_001)
        before = await _entry_ids(app)
        lines = app.state.ledger.export_lines(LO, HI)
        read = [await anext(lines)]
        await slow.commit()
    await _post(app, "later")
    read += [x async for x in lines]
    assert {x.entry_id for x in read} == before
    assert len(read) == 2 * len(before)


@pytest.mark.postgres
async def test_the_snapshot_is_a_read_only_repeatable_read_transaction(app: Any) -> None:
    async with app.state.db.snapshot() as s:
        show = [(await s.execute(text(f"SHOW {x}"))).scalar() for x in
                ("transaction_isolation", "transaction_read_only")]  # fmt: skip
    assert show == ["repeatable read", "on"]
    async with app.state.db.session() as s:  # the pooled connection is given back as it was
        assert (await s.execute(text("SHOW transaction_isolation"))).scalar() == "read committed"


async def test_the_opening_balances_are_of_the_snapshot_s_moment(app: Any) -> None:
    """An entry posted (effective before the period) after the snapshot opened is in
    neither its lines nor its opening balances."""
    await _post(app, "before")
    async with app.state.ledger.snapshot() as ledger:
        await _post(app, "meanwhile")
        opening = {(b.account, b.currency): b.balance for b in await ledger.balances(as_of=HI)}
        lines = [x async for x in ledger.lines(LO, HI)]
    assert opening == {("assets:bank:main", "EUR"): 100, ("income:u", "EUR"): -100}
    assert len(lines) == 2


async def test_the_next_writer_on_the_snapshot_s_pooled_connection_writes_as_before(
    app: Any,
) -> None:
    """The snapshot's connection goes back to the pool with its reading settings undone: the
    session that takes it next is a writer's transaction again (SQLite: ``BEGIN
    IMMEDIATE``, the write lock taken up front, so another connection cannot take it;
    PostgreSQL: READ COMMITTED, not read-only)."""
    db = app.state.db
    await db.engine.dispose()  # an empty pool: the session below gets the snapshot's connection
    async with db.snapshot() as snap:
        used = (await (await snap.connection()).get_raw_connection()).driver_connection
    async with db.session() as s:
        conn = await s.connection()
        assert (await conn.get_raw_connection()).driver_connection is used
        if db.is_postgres:
            isolation = (await s.execute(text("SHOW transaction_isolation"))).scalar()
            read_only = (await s.execute(text("SHOW transaction_read_only"))).scalar()
            assert (isolation, read_only) == ("read committed", "off")
        else:
            await s.execute(text("SELECT 1"))
            other = sqlite3.connect(db.engine.url.database, timeout=0)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
        await post(s, source_key="after-snapshot", kind="test",
                   postings=transfer("assets:bank:main", "income:u", 100, "EUR"))  # fmt: skip
        await s.commit()
    assert len(await _entry_ids(app)) == 1
