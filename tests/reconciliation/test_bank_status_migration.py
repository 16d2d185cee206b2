"""Migration 0041: bank entries stored before their status was made ISO's code at parse
time, and statements imported before 0040 kept what their entries add up to.

An entry stored as ``BOOKED`` (its key ``ASR-1#BOOKED``) never reached a run (the runs take
``BOOK``), and a file with it imported since stored it a second time, under ``ASR-1``. A
statement imported before 0040 had no ``computed`` closing balance: its bank tie-out never
said it did not add up."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from reconciliation.models import BankBalanceRow, BankEntryRow, BankStatementImport
from reconciliation.sources.camt053_model import entry_status
from reconciliation.statement_keys import nth, with_status
from regie.kit.settings import Settings
from regie.migrate import alembic_config, upgrade
from tests.conftest import PG_URL, Keys
from tests.payments.test_reference_migration import _database
from tests.reconciliation.camt_builder import E, S, camt
from tests.reconciliation.test_statement_bookings import IBAN, booked, stored, upload

migration = importlib.import_module("migrations.versions.0041_bank_entry_status_iso")

OTHER = "FR7610107001011234567890129"
DAY = dt.date(2026, 10, 1)
CONTENT = "2026-10-01/CRDT/50.00EUR/1a2b3c4d5e/1"

# id: (account, key stored, status stored, key after, status after); import bsi_0
ENTRIES = {
    1: (IBAN, "ASR-1#BOOKED", "BOOKED", "ASR-1", "BOOK"),  # brought, with its key
    2: (IBAN, "ASR-2#BOOKED", "BOOKED", "ASR-2#BOOKED", "BOOKED"),  # imported again: kept
    3: (IBAN, "ASR-2", "BOOK", "ASR-2", "BOOK"),  # ... as it was since efbf786
    4: (IBAN, "ASR-3#pending", "pending", "ASR-3#PDNG", "PDNG"),
    5: (IBAN, "ASR-4", "booked", "ASR-4", "BOOK"),  # its bare reference (before with_status)
    6: (IBAN, "ASR-5#BOOKED#2", "BOOKED", "ASR-5#2", "BOOK"),  # the second of a statement
    7: (IBAN, CONTENT, "Booked", CONTENT, "Booked"),  # a digest holding "Booked": kept
    8: (IBAN, "ASR-6", "EN COURS", "ASR-6", "EN COURS"),  # a bank's own word: as written
    9: (IBAN, "ASR-7#booked", "booked", "ASR-7", "BOOK"),  # two take one key: the first
    10: (IBAN, "ASR-7#BOOKED", "BOOKED", "ASR-7#BOOKED", "BOOKED"),  # ... the other kept
    11: (IBAN, "ASR-8", "PENDING", "ASR-8", "PENDING"),  # its booking would move it onto 12
    12: (IBAN, "ASR-8#PDNG", "PDNG", "ASR-8#PDNG", "PDNG"),
    13: (OTHER, "ASR-2#BOOKED", "BOOKED", "ASR-2", "BOOK"),  # another account: no clash
}

# import: (statements, entries it counted, duplicates, [(statement, type, amount, ccy, seq)],
#          [(statement, amount, direction, currency, status)], computed after)
IMPORTS: dict[str, Any] = {
    # adds up once its BOOKED entry is counted: computed stays NULL
    "bsi_1": (1, 2, 0, [("S1", "OPBD", 0, "EUR", 1), ("S1", "CLBD", 10000, "EUR", 1)],
              [("S1", 5000, "credit", "EUR", "BOOKED"), ("S1", 5000, "credit", "EUR", "BOOK")],
              None),
    # 100.00 + 50.00 booked (the pending 30.00 not) make 150.00, not 200.00
    "bsi_2": (1, 3, 0, [("S2", "OPBD", 10000, "EUR", 2), ("S2", "CLBD", 20000, "EUR", 2)],
              [("S2", 5000, "credit", "EUR", "BOOK"), ("S2", 3000, "credit", "EUR", "PDNG"),
               ("S2", 1000, "debit", "EUR", "PENDING")], 15000),
    # a debit, and the first PRCD when there is no OPBD: 5.00 - 1.00 = 4.00, not 3.00
    "bsi_3": (1, 1, 0, [("S3", "PRCD", 500, "EUR", 3), ("S3", "PRCD", 900, "EUR", 3),
                        ("S3", "CLBD", 300, "EUR", 3)],
              [("S3", 100, "debit", "EUR", "booked")], 400),
    # an entry skipped as a duplicate: its statement's entries are not all stored
    "bsi_4": (1, 1, 1, [("S4", "OPBD", 0, "EUR", 4), ("S4", "CLBD", 9900, "EUR", 4)],
              [("S4", 100, "credit", "EUR", "BOOK")], None),
    # one id, two statements (a bank reusing its id): whose entry is whose is not told
    "bsi_5": (2, 1, 0, [("S5", "OPBD", 0, "EUR", 5), ("S5", "CLBD", 0, "EUR", 5),
                        ("S5", "OPBD", 0, "EUR", 6), ("S5", "CLBD", 700, "EUR", 6)],
              [("S5", 100, "credit", "EUR", "BOOK")], None),
    # an entry in another currency: not added up
    "bsi_6": (1, 1, 0, [("S6", "OPBD", 0, "EUR", 7), ("S6", "CLBD", 900, "EUR", 7)],
              [("S6", 100, "credit", "USD", "BOOK")], None),
    # the import counted two entries, one is stored (older rules): not exact
    "bsi_7": (1, 2, 0, [("S7", "OPBD", 0, "EUR", 8), ("S7", "CLBD", 900, "EUR", 8)],
              [("S7", 100, "credit", "EUR", "BOOK")], None),
    # a statement without an opening balance
    "bsi_8": (1, 1, 0, [("S8", "CLBD", 900, "EUR", 9)],
              [("S8", 100, "credit", "EUR", "BOOK")], None),
}  # fmt: skip
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _import(id_: str, statements: int, count: int, duplicates: int) -> dict[str, Any]:
    return dict(
        id=id_, sha256=id_.ljust(64, "0"), filename=f"{id_}.xml", version="001.08",
        message_id=id_, account=IBAN, currency="EUR", statements=statements, entries=count,
        duplicates=duplicates, problems=[], last_sequence=None, actor="test", created_at=NOW,
    )  # fmt: skip


def _entry(import_id: str, st: str, account: str, key: str, amount: int, direction: str,
           currency: str, status: str, id_: int | None = None) -> dict[str, Any]:  # fmt: skip
    row = dict(
        import_id=import_id, statement_id=st, account=account, bank_reference=key,
        amount=amount, direction=direction, currency=currency, status=status, reversal=False,
        booking_date=DAY, value_date=DAY, text="",
    )  # fmt: skip
    return row if id_ is None else {**row, "id": id_}


async def _seed(url: str) -> None:
    engine = create_async_engine(url)
    imports, entries, balances = (
        t.__table__  # type: ignore[attr-defined]
        for t in (BankStatementImport, BankEntryRow, BankBalanceRow)
    )
    async with engine.begin() as conn:
        await conn.execute(imports.insert(), [_import("bsi_0", 1, len(ENTRIES), 0)])
        await conn.execute(entries.insert(), [
            _entry("bsi_0", "S0", acc, key, 100, "credit", "EUR", status, id_)
            for id_, (acc, key, status, _, _) in ENTRIES.items()
        ])  # fmt: skip
        for k, (id_, (statements, count, dups, bals, rows, _)) in enumerate(IMPORTS.items()):
            await conn.execute(imports.insert(), [_import(id_, statements, count, dups)])
            await conn.execute(balances.insert(), [
                dict(import_id=id_, account=IBAN, statement_id=st, type=kind, amount=amount,
                     currency=ccy, date=DAY, electronic_sequence=seq)
                for st, kind, amount, ccy, seq in bals
            ])  # fmt: skip
            await conn.execute(entries.insert(), [
                # ids given (PostgreSQL's sequence does not follow ids given above)
                _entry(id_, st, IBAN, f"{id_}-{n}", amount, direction, ccy, status,
                       100 * (k + 1) + n)
                for n, (st, amount, direction, ccy, status) in enumerate(rows)
            ])  # fmt: skip
    await engine.dispose()


async def _read(url: str) -> tuple[dict[int, tuple[str, str, str, str, str]], dict[str, list[Any]], str]:  # fmt: skip
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT id, account, bank_reference, status FROM bank_entries WHERE import_id = 'bsi_0'"
        ))).all()  # fmt: skip
        closing = (await conn.execute(sa.text(
            "SELECT import_id, computed FROM bank_balances WHERE type = 'CLBD' ORDER BY id"
        ))).all()  # fmt: skip
        version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
    await engine.dispose()
    computed: dict[str, list[Any]] = {}
    for import_id, value in closing:
        computed.setdefault(import_id, []).append(value)
    entries = {r[0]: (r[1], ENTRIES[r[0]][1], ENTRIES[r[0]][2], r[2], r[3]) for r in rows}
    return entries, computed, str(version)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A database at migration 0040 (the previous head), empty."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    elif not PG_URL:
        pytest.skip("needs PostgreSQL: set REGIE_TEST_DATABASE_URL")
    else:
        url = f"{PG_URL}_m0041"  # a database of its own, dropped after
        asyncio.run(_database(url, drop=False))
    upgrade(url, "0040")
    yield url
    if request.param == "postgresql":
        asyncio.run(_database(url, drop=True))


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "migrations.0041" and r.levelno == logging.WARNING]  # fmt: skip


def test_the_upgrade_brings_statuses_and_keys_and_computes_old_closings(
    old_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = old_database
    asyncio.run(_seed(url))
    caplog.set_level(logging.INFO, logger="migrations.0041")
    upgrade(url, "0041")
    got, computed, version = asyncio.run(_read(url))
    assert version == "0041"
    assert got == ENTRIES
    # the closing balance of each import, as the import computes it now, only where exact
    assert computed == {
        "bsi_1": [None], "bsi_2": [15000], "bsi_3": [400], "bsi_4": [None], "bsi_5": [None, None],
        "bsi_6": [None], "bsi_7": [None], "bsi_8": [None],
    }  # fmt: skip
    # the entries kept as they were are named by their ids, and nothing else
    clash, digest = _warnings(caplog)
    assert clash.endswith(": 2, 10, 11") and "3 bank entries" in clash
    assert digest.endswith(": 7") and "1 bank entries" in digest
    for secret in ("ASR", "BOOKED", "50.00", IBAN, "S1", CONTENT):
        assert secret not in clash + digest
    (info,) = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO
               and r.name == "migrations.0041"]  # fmt: skip
    # 6 of bsi_0, then the BOOKED of bsi_1, the PENDING of bsi_2, the booked of bsi_3
    assert "9 bank entries' statuses brought to ISO's code (5 keys with them)" in info
    assert "2 closing balances computed as not adding up, 1 found adding up, 6 not " in info

    # the downgrade changes nothing back; upgraded again, nothing changes and the same
    # entries are reported
    from alembic import command

    command.downgrade(alembic_config(url), "0040")
    again, computed_again, version = asyncio.run(_read(url))
    assert (again, computed_again, version) == (got, computed, "0040")
    caplog.clear()
    upgrade(url, "0041")
    assert asyncio.run(_read(url))[:2] == (got, computed)
    assert _warnings(caplog) == [clash, digest]


def test_the_migration_reads_a_status_and_keys_an_entry_as_the_code_does() -> None:
    """The migration keeps its own copy of the rules (the code's may change later): when
    they do, this fails, and the rows stored under the old rules need a new migration."""
    for written in ("BOOK", "BOOKED", "booked", " Book ", "PENDING", "pdng", "Information",
                    "future", "EN COURS", "INFORMAT", ""):  # fmt: skip
        assert migration.entry_status(written) == entry_status(written), written
    for ref in ("ASR-1", "A" * 136, "A" * 140):
        for status in ("BOOK", "PDNG", "INFO"):
            for n in (1, 2, 3):
                assert migration.nth(migration.with_status(ref, status), n) == nth(
                    with_status(ref, status), n
                )


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def _file(msg: str, *entries: E, closing: str = "50.00") -> bytes:
    return camt(S(closing=(closing, "CRDT"), entries=list(entries)), msg_id=msg)


async def test_an_entry_stored_as_booked_reaches_runs_and_is_not_imported_again(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await upload(client, keys, _file("MSG-1", E("50.00", servicer_ref="ASR-1")), "a.xml")
    async with app.state.db.engine.begin() as conn:  # as a regie before efbf786 stored it
        await conn.execute(
            sa.text("UPDATE bank_entries SET bank_reference = 'ASR-1#BOOKED', status = 'BOOKED'")
        )
    assert await booked(app) == []  # what the runs missed
    async with app.state.db.engine.begin() as conn:
        report = await conn.run_sync(migration.migrate)
    assert (report.statuses, report.keys, report.clashes, report.digests) == (1, 1, [], [])
    assert await stored(app) == [("ASR-1", "BOOK")]
    assert await booked(app) == [("ASR-1", 5000)]
    # a later file with the entry again: the entry already stored, counted once
    again = await upload(client, keys, _file("MSG-2", E("50.00", servicer_ref="ASR-1")), "b.xml")
    assert (again["entries"], again["duplicates"]) == (0, 1)
    assert await booked(app) == [("ASR-1", 5000)]


async def test_an_entry_imported_again_since_is_counted_once(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Stored as BOOKED, then imported again as BOOK since efbf786: two rows of one entry.
    Brought to BOOK, the first would be counted twice: it stays as it was."""
    await upload(client, keys, _file("MSG-1", E("50.00", servicer_ref="ASR-1")), "a.xml")
    async with app.state.db.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE bank_entries SET bank_reference = 'ASR-1#BOOKED', status = 'BOOKED'")
        )
    again = await upload(client, keys, _file("MSG-2", E("50.00", servicer_ref="ASR-1")), "b.xml")
    assert again["entries"] == 1  # stored a second time, counted once (the first is not)
    async with app.state.db.engine.begin() as conn:
        report = await conn.run_sync(migration.migrate)
        (kept,) = (await conn.execute(
            sa.text("SELECT id FROM bank_entries WHERE status = 'BOOKED'"))).scalars().all()  # fmt: skip
    assert (report.statuses, report.clashes) == (0, [kept])
    assert await booked(app) == [("ASR-1", 5000)]


async def test_a_statement_imported_before_0040_gets_what_the_import_computes(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """The migration's sum is the import's: a statement that does not add up (0.00 + 50.00
    + 20.00 booked, 5.00 pending, is 70.00, not 75.00) and one that does."""
    entries = (E("50.00", servicer_ref="A-1"), E("20.00", servicer_ref="A-2"),
               E("5.00", status="PDNG", servicer_ref="A-3"))  # fmt: skip
    await upload(client, keys, _file("MSG-1", *entries, closing="75.00"), "off.xml")
    await upload(client, keys, camt(S(id="S2", seq=2, opening=("75.00", "CRDT"),
                 closing=("65.00", "CRDT"), entries=[E("10.00", direction="DBIT",
                 servicer_ref="A-4")]), msg_id="MSG-2"), "on.xml")  # fmt: skip
    query = sa.text("SELECT statement_id, computed FROM bank_balances WHERE type = 'CLBD'")
    async with app.state.db.engine.begin() as conn:
        imported = sorted((await conn.execute(query)).all())
        assert imported == [("S1", 7000), ("S2", None)]
        await conn.execute(sa.text("UPDATE bank_balances SET computed = NULL"))  # before 0040
        report = await conn.run_sync(migration.migrate)
        assert sorted((await conn.execute(query)).all()) == imported
    assert (report.computed, report.balanced, report.untold) == (1, 1, 0)


@pytest.mark.postgres
async def test_a_key_taken_meanwhile_on_postgres_is_a_clash_not_a_failure(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """An older regie still importing during the upgrade may store the key the migration
    gives an entry: that entry keeps what it stored, the rest of its batch is written."""
    await upload(client, keys, _file("MSG-1", E("30.00", servicer_ref="A-1"),
                 E("15.00", servicer_ref="A-2"), E("5.00", servicer_ref="A-3")),
                 "a.xml")  # fmt: skip
    async with app.state.db.engine.begin() as conn:
        await conn.execute(sa.text(
            "UPDATE bank_entries SET bank_reference = bank_reference || '#BOOKED', "
            "status = 'BOOKED'"))  # fmt: skip
        ids = dict((await conn.execute(
            sa.text("SELECT bank_reference, id FROM bank_entries"))).all())  # fmt: skip
        await conn.execute(sa.text(  # the key taken while the migration ran
            "UPDATE bank_entries SET bank_reference = 'A-2', status = 'BOOK' "
            "WHERE bank_reference = 'A-3#BOOKED'"))  # fmt: skip
        report = migration.Report()
        moves = [migration._Move(ids[f"{r}#BOOKED"], IBAN, f"{r}#BOOKED", "BOOK", r, None)
                 for r in ("A-1", "A-2")]  # fmt: skip
        await conn.run_sync(migration._write, moves, report)
    assert (report.statuses, report.clashes) == (1, [ids["A-2#BOOKED"]])
    assert await stored(app) == [("A-1", "BOOK"), ("A-2", "BOOK"), ("A-2#BOOKED", "BOOKED")]
