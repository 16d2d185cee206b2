"""On the bulk path, what a run reads from PostgreSQL beside the report (the ledger's other
items, the bank's entries, the tie-outs: ``run_sides``) is read while DuckDB settles the
report's pairs, not after; and when either fails, the run fails with that error, stores
nothing, and closes the report only once DuckDB's matching is done."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from reconciliation.bulk import BulkReport
from reconciliation.models import ReconRun
from reconciliation.run_sides import RunSides
from tests.reconciliation.test_bulk import Month, _book, _run

pytestmark = pytest.mark.postgres


async def _runs(app: Any) -> int:
    async with app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(ReconRun))).scalar_one())


async def test_the_side_reads_run_while_duckdb_matches(app, monkeypatch, bulk_calls) -> None:
    m = Month(120, 3)
    await _book(app, m)
    started = threading.Event()
    seen: list[bool] = []
    sides, match = RunSides._sides, BulkReport._match

    async def reading(self: Any, *args: Any, **kwargs: Any) -> Any:
        started.set()
        return await sides(self, *args, **kwargs)

    def matching(self: Any, parts: Any) -> Any:
        # on DuckDB's worker thread: the side reads have begun meanwhile (a run that read
        # them after matching would leave this waiting, and the flag false)
        seen.append(started.wait(timeout=10))
        return match(self, parts)

    monkeypatch.setattr(RunSides, "_sides", reading)
    monkeypatch.setattr(BulkReport, "_match", matching)
    overlapped = await _run(app, True, m.csv(), m.camt())
    assert bulk_calls == [True]
    assert seen == [True]
    monkeypatch.setattr(RunSides, "_sides", sides)
    monkeypatch.setattr(BulkReport, "_match", match)
    assert await _run(app, False, m.csv(), m.camt()) == overlapped  # the pure path's run


@pytest.mark.parametrize("failing", ["sides", "match"])
async def test_a_failure_on_either_side_fails_the_run_after_both_ended(
    app, monkeypatch, failing: str
) -> None:
    m = Month(60, 4)
    await _book(app, m)
    before = await _runs(app)
    events: list[str] = []
    sides, match, close = RunSides._sides, BulkReport._match, BulkReport.close

    async def reading(self: Any, *args: Any, **kwargs: Any) -> Any:
        got = await sides(self, *args, **kwargs)
        events.append("sides read")
        if failing == "sides":
            raise RuntimeError("the bank's table is gone")
        return got

    def matching(self: Any, parts: Any) -> Any:
        got = match(self, parts)
        events.append("matched")
        if failing == "match":
            raise RuntimeError("DuckDB ran out of memory")
        return got

    async def closing(self: Any) -> None:
        events.append("closed")
        await close(self)

    monkeypatch.setattr(RunSides, "_sides", reading)
    monkeypatch.setattr(BulkReport, "_match", matching)
    monkeypatch.setattr(BulkReport, "close", closing)
    with pytest.raises(RuntimeError, match="bank's table" if failing == "sides" else "DuckDB"):
        await _run(app, True, m.csv(), m.camt())
    assert sorted(events[:2]) == ["matched", "sides read"]
    assert events[2:] == ["closed"]
    assert await _runs(app) == before
