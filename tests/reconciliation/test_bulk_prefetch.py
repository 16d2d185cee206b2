"""The ledger's hand-over started before the run (``reconciliation.ledger_copy``): what
``regie reconcile`` starts while Python imports the rest of regie. A run uses it only when it
read the very window the run reads, and only when it succeeded; it reads from its own
snapshot; its files are gone once it is closed; and the command still says what is wrong with
a database in one line."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciliation.bulk import BulkReport
from reconciliation.ledger_copy import LedgerPrefetch, Window, window_for
from tests.reconciliation.test_bulk import Month, _book

pytestmark = pytest.mark.postgres

WINDOW = window_for("stripe", dt.date(2026, 10, 1), dt.date(2026, 10, 31))
LATE = dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC)


async def _book_late(app: Any) -> None:
    """A payment booked after the prefetch's snapshot (and in no report)."""
    async with app.state.db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute("SET session_replication_role = replica")
        await raw.execute(
            "INSERT INTO payments (id, invoice_id, service_id, provider, status, amount, "
            "currency, provider_payment_id, fee, is_overpayment, check_count, created_at, "
            "updated_at, succeeded_at) VALUES ('pay_late', 'inv_late', 'svc_bulk', 'stripe', "
            "'succeeded', 4321, 'EUR', 'pi_late', 85, false, 0, $1, $1, $1)",
            LATE,
        )
        await raw.execute(
            "INSERT INTO ledger_entries (id, source_key, kind, service_id, invoice_id, "
            "description, effective_at, created_at) VALUES ('je_late', "
            "'payment:pay_late:succeeded', 'payment_succeeded', 'svc_bulk', 'inv_late', '', "
            "$1, $1)",
            LATE,
        )
        await raw.execute(
            "INSERT INTO ledger_lines (entry_id, position, account, currency, debit, credit) "
            "VALUES ('je_late', 1, 'assets:psp:stripe', 'EUR', 4321, 0), "
            "('je_late', 2, 'receivable:bulk', 'EUR', 0, 4321)"
        )
        await raw.execute(
            "INSERT INTO ledger_psp_postings (entry_id, kind, account, reference, effective_at,"
            " amount, currency, fee) VALUES ('je_late', 'payment_succeeded', "
            "'assets:psp:stripe', 'pi_late', $1, 4321, 'EUR', 85)",
            LATE,
        )
        await raw.execute("SET session_replication_role = origin")
        await conn.commit()


async def _leftover_refs(app: Any, m: Month, prefetch: LedgerPrefetch | None) -> list[str]:
    """The ledger payments a bulk run of the month leaves for the rounds."""
    bulk = await BulkReport.open(app.state.db.engine, m.csv(), "r.csv", WINDOW, prefetch)
    assert bulk is not None
    try:
        _psp, items, _settled = await bulk.match("stripe", WINDOW.since, WINDOW.until)
    finally:
        await bulk.close()
    return sorted(i.ref for i in items)


async def test_a_prefetch_of_the_window_is_read_from_its_own_snapshot(app: Any) -> None:
    m = Month(120, 21)
    await _book(app, m)
    prefetch = LedgerPrefetch(app.state.db.url, WINDOW)
    assert await prefetch.wait()
    await _book_late(app)  # after the prefetch's snapshot
    try:
        from_prefetch = await _leftover_refs(app, m, prefetch)
    finally:
        prefetch.close()
    in_place = await _leftover_refs(app, m, None)
    # the late payment is missing at the PSP for a run that reads now, not for the prefetch
    assert "pi_late" in in_place
    assert sorted([*from_prefetch, "pi_late"]) == in_place
    assert not prefetch.tmp.exists()
    assert app.state.db.engine.pool.checkedout() == 0


async def test_a_prefetch_of_another_window_or_that_failed_is_not_used(app: Any) -> None:
    m = Month(80, 22)
    await _book(app, m)
    other = Window("stripe", WINDOW.since + dt.timedelta(days=1), WINDOW.until)
    url = app.state.db.url
    broken = url.replace("@127.0.0.1:5432/", "@127.0.0.1:1/").replace(
        "@localhost:5432/", "@localhost:1/"
    )
    assert broken != url
    prefetches = [LedgerPrefetch(url, other), LedgerPrefetch(broken, WINDOW)]
    assert [await p.wait() for p in prefetches] == [True, False]
    await _book_late(app)
    try:
        got = [await _leftover_refs(app, m, p) for p in prefetches]
    finally:
        for p in prefetches:
            p.close()
    in_place = await _leftover_refs(app, m, None)
    assert "pi_late" in in_place
    assert got == [in_place, in_place]  # both read the ledger now, in place
    assert not any(p.tmp.exists() for p in prefetches)


def _reconcile(
    tmp_path: Path, url: str, report: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``regie reconcile --stripe-csv report`` of October on ``url``, in a process whose
    temporary directory is its own (another test run's are not its), returned with it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = url
    private = tmp_path / "tmp"
    private.mkdir()
    env["TMPDIR"] = str(private)
    done = subprocess.run(
        [sys.executable, "-m", "regie.cli", "reconcile", "--from", "2026-10-01", "--to",
         "2026-10-31", "--stripe-csv", str(report)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    return done, private


def test_the_command_on_a_database_it_cannot_open_says_so_in_one_line(tmp_path: Path) -> None:
    """``regie reconcile --stripe-csv`` starts the hand-over before it checks the database:
    the hand-over's failure stays silent and the check says what is wrong."""
    report = tmp_path / "payouts.csv"
    report.write_bytes(Month(5, 23).csv())
    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/regie_no_such_db"
    done, private = _reconcile(tmp_path, url, report)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the database"), lines
    assert "regie_no_such_db" in lines[0] and "Traceback" not in done.stderr
    assert not list(private.glob("regie-ledger-*"))


def test_a_report_it_cannot_read_ends_the_command_and_its_hand_over(tmp_path: Path) -> None:
    """The hand-over starts before the files are read: a report that cannot be read ends
    the command (exit 2, the file named) and the hand-over with it, leaving nothing."""
    url = os.environ["REGIE_TEST_DATABASE_URL"]
    done, private = _reconcile(tmp_path, url, tmp_path / "nowhere.csv")
    assert done.returncode == 2, done.stderr
    assert "nowhere.csv" in done.stderr and "Traceback" not in done.stderr
    assert not list(private.iterdir())
