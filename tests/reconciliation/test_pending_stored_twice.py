"""A pending entry stored under its bare reference (``ASR-1``, status PDNG: an older regie,
before keys held the status) and again under its pending key (``ASR-1#PDNG``: the same
entry imported again since) made the import of its booking fail for good: the bare entry was
moved to ``ASR-1#PDNG`` without looking whether that key was taken, a unique-constraint
error (a 500 from the API, a crash of ``regie reconcile``), and every retry the same. The
booking is now stored and counted once; the two pending rows of one entry are one; two
pending rows that may be two entries are both kept, and said in the import's problems."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.test_statement_bookings import (
    BOOKED,
    IBAN,
    booked,
    pending_file,
    stored,
    upload,
)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def _older_rows(app: Any, bare_amount: int | None = None) -> None:
    """The pending entry as stored twice: ``ASR-1#PDNG`` (imported), and ``ASR-1`` (a copy,
    as an older regie wrote it), of another amount when given."""
    async with app.state.db.session() as s:
        await s.execute(text(
            "INSERT INTO bank_entries (import_id, statement_id, account, bank_reference, amount,"
            " direction, currency, status, reversal, booking_date, value_date, text)"
            " SELECT import_id, statement_id, account, 'ASR-1', COALESCE(:amount, amount),"
            " direction, currency, status, reversal, booking_date, value_date, text"
            " FROM bank_entries WHERE bank_reference = 'ASR-1#PDNG'"
        ), {"amount": bare_amount})  # fmt: skip
        await s.commit()


async def test_the_booking_of_a_pending_entry_stored_twice_is_imported_once(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await upload(client, keys, pending_file(), "pending.xml")
    await _older_rows(app)
    assert await stored(app) == [("ASR-1", "PDNG"), ("ASR-1#PDNG", "PDNG")]
    result = await upload(client, keys, BOOKED, "booked.xml")  # was a 500
    assert (result["entries"], result["duplicates"]) == (1, 0)
    assert await booked(app) == [("ASR-1", 5000)]
    # the booked entry once; both pending rows kept (none deleted), the bare one renumbered
    assert await stored(app) == [
        ("ASR-1", "BOOK"), ("ASR-1#PDNG", "PDNG"), ("ASR-1#PDNG#2", "PDNG")
    ]  # fmt: skip
    assert any("stored again as ASR-1#PDNG" in p for p in result["problems"]), result
    again = await upload(client, keys, BOOKED, "booked.xml")
    assert again["already_imported"] is True
    pending = await upload(client, keys, pending_file("MSG-9"), "pending-again.xml")
    assert (pending["entries"], pending["duplicates"]) == (0, 1)
    assert await booked(app) == [("ASR-1", 5000)]


async def test_two_pending_rows_that_differ_are_both_kept_and_said(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await upload(client, keys, pending_file(), "pending.xml")
    await _older_rows(app, bare_amount=6000)  # not the same entry, or not surely
    result = await upload(client, keys, BOOKED, "booked.xml")
    assert (result["entries"], result["duplicates"]) == (1, 0)
    assert await booked(app) == [("ASR-1", 5000)]
    assert await stored(app) == [
        ("ASR-1", "BOOK"), ("ASR-1#PDNG", "PDNG"), ("ASR-1#PDNG#2", "PDNG")
    ]  # fmt: skip
    assert any("ASR-1" in p and "ASR-1#PDNG#2" in p for p in result["problems"]), result


async def test_a_pending_entry_stored_bare_imported_again_is_a_duplicate(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """The way the entry came to be stored twice: its pending key was not found, its bare
    reference (of the same status and amount) is that entry."""
    await upload(client, keys, pending_file(), "pending.xml")
    async with app.state.db.session() as s:  # as an older regie stored it
        await s.execute(text("UPDATE bank_entries SET bank_reference = 'ASR-1'"))
        await s.commit()
    again = await upload(client, keys, pending_file("MSG-3"), "pending-again.xml")
    assert (again["entries"], again["duplicates"]) == (0, 1)
    assert await stored(app) == [("ASR-1#PDNG", "PDNG")]
    result = await upload(client, keys, BOOKED, "booked.xml")
    assert (result["entries"], result["duplicates"]) == (1, 0)
    assert await stored(app) == [("ASR-1", "BOOK"), ("ASR-1#PDNG", "PDNG")]


async def test_a_file_with_the_pending_entry_and_its_booking_after_a_bare_one(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """One file holding the pending statement and the booking's: the bare entry moved to
    its pending key is the file's pending entry, not another one to store."""
    await upload(client, keys, pending_file(), "pending.xml")
    async with app.state.db.session() as s:
        await s.execute(text("UPDATE bank_entries SET bank_reference = 'ASR-1'"))
        await s.commit()
    from tests.reconciliation.camt_builder import E, S, camt

    both = camt(
        S(closing=("0.00", "CRDT"), entries=[E("50.00", status="PDNG", servicer_ref="ASR-1")]),
        S(id="S2", seq=2, closing=("50.00", "CRDT"),
          entries=[E("50.00", status="BOOK", servicer_ref="ASR-1")]),
        msg_id="MSG-4",
    )  # fmt: skip
    result = await upload(client, keys, both, "both.xml")
    assert (result["entries"], result["duplicates"]) == (1, 1)
    assert await stored(app) == [("ASR-1", "BOOK"), ("ASR-1#PDNG", "PDNG")]
    assert await booked(app) == [("ASR-1", 5000)]


async def test_the_cli_imports_the_booking_of_a_pending_entry_stored_twice(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, tmp_path: Path
) -> None:
    await upload(client, keys, pending_file(), "pending.xml")
    await _older_rows(app)
    statement = tmp_path / "booked.xml"
    statement.write_bytes(BOOKED)
    env = {**os.environ, "REGIE_DATABASE_URL": settings.database_url,
           "REGIE_BANK_IBAN": IBAN, "REGIE_LOG_LEVEL": "WARNING"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "regie.cli", "reconcile", "--from", "2026-10-01",
         "--to", "2026-10-01", "--camt053", str(statement)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr  # 1: discrepancies open, not a crash
    assert "Traceback" not in done.stderr
    assert await booked(app) == [("ASR-1", 5000)]
    assert await stored(app) == [
        ("ASR-1", "BOOK"), ("ASR-1#PDNG", "PDNG"), ("ASR-1#PDNG#2", "PDNG")
    ]  # fmt: skip
