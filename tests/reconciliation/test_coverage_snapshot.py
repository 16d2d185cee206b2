"""A run reads the bank's side in one snapshot: statements imported while it reads (another
finance officer's upload) are in all of it or in none of it. On PostgreSQL, where the reads
do not wait for an import (SQLite's transactions write one at a time)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from payments.providers.simulator.commands import bank_statement_file
from reconciliation import bank_repository as bank_repo
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.months import OCT_FIRST, OCT_LAST, UTC, found, run
from tests.reconciliation.test_coverage_review import OCT_28, _import, _october
from tests.test_year_boundaries import Clock


@pytest.mark.postgres
async def test_statements_imported_while_a_run_reads_are_not_half_read(
    app: Any,
    client: httpx.AsyncClient,
    keys: Keys,
    settings: Settings,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Statements to Wednesday 28 October are in; October's run has read the bank's entries
    when the statements of 29 October to 6 November, which credit the payout due on the
    30th, are imported. The run read their closing balances and the days they cover but not
    their entries: that payout was missing in the bank (its credit unread) and the bank
    tie-out compared a balance holding it. Read in one snapshot, the run is the one made
    just before the import."""
    first, last = await _october(app, client, keys, clock)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    to_28 = await bank_statement_file(
        settings, OCT_FIRST, OCT_28, now=dt.datetime(2026, 10, 28, 22, tzinfo=UTC)
    )
    await _import(client, keys, "octobre.xml", to_28.content)
    rest = await bank_statement_file(
        settings, dt.date(2026, 10, 29), dt.date(2026, 11, 6),
        now=dt.datetime(2026, 11, 6, 22, tzinfo=UTC),
    )  # fmt: skip
    read = bank_repo.bank_lines
    imported: list[object] = []

    async def then_import(*args: Any, **kw: Any) -> Any:
        lines = await read(*args, **kw)
        if not imported:  # another officer's upload, committed while the run reads
            importer = app.state.reconciliation.statements
            imported.append(await importer.import_file(rest.content, "fin.xml", "other"))
        return lines

    monkeypatch.setattr(bank_repo, "bank_lines", then_import)
    doc = await run(client, keys, OCT_FIRST, OCT_LAST)
    assert imported
    assert found(doc) == [], doc["discrepancies"]
    assert last.id in doc["summary"]["in_transit"]
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    assert (bank["as_of"], bank["source"], bank["difference"]) == ("2026-10-28", first.amount, 0)
    # the next run reads the new statements whole
    monkeypatch.undo()
    doc = await run(client, keys, OCT_FIRST, OCT_LAST)
    assert found(doc) == [] and doc["summary"]["payouts_matched"] == 2
