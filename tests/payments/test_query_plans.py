"""Plans of the invoice queries a large town's year (a million invoices) would make slow,
read on PostgreSQL with sequential scans disabled: a condition no index can serve then
shows as a filter, never as an index condition (no timing is measured)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from payments import repository as repo


class _Recorder:
    """A session that records the statements it is given, then runs them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.statements: list[Any] = []

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(statement)
        return await self.session.execute(statement, *args, **kwargs)


@pytest.mark.postgres
async def test_the_finance_search_counts_a_period_by_an_index_on_the_creation_time(
    app: Any,
) -> None:
    """The finance invoice search counts its matches on every page (``count_invoices``);
    filtered by a creation period, it read every invoice (a parallel scan of the whole
    table, 90 ms on a million) before ``ix_invoices_created_at``."""
    start = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    filters = {
        "service_id": None, "text": None, "status": None, "service_slug": None,
        "created_gte": start, "created_lt": start + dt.timedelta(days=28),
    }  # fmt: skip
    async with app.state.db.session() as s:
        recorder = _Recorder(s)
        assert await repo.count_invoices(recorder, **filters) == 0  # type: ignore[arg-type]
        (stmt,) = recorder.statements
        sql = str(stmt.compile(app.state.db.engine, compile_kwargs={"literal_binds": True}))
        await s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in await s.execute(text(f"EXPLAIN {sql}")))
    conditions = [line for line in plan.splitlines() if "Index Cond" in line]
    assert any("created_at" in line for line in conditions), plan
