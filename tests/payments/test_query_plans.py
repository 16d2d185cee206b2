"""Plans of the invoice queries a large town's year (a million invoices) would make slow,
read on PostgreSQL with sequential scans disabled: a condition no index can serve then
shows as a filter, never as an index condition (no timing is measured)."""

from __future__ import annotations

import datetime as dt
import re
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


def _period(days: int = 28) -> dict[str, Any]:
    start = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    return {"created_gte": start, "created_lt": start + dt.timedelta(days=days)}


async def _id_conditions(app: Any, read: Any) -> tuple[list[str], str]:
    """The index conditions on ``id`` in the plan of the statement ``read`` emits."""
    async with app.state.db.session() as s:
        recorder = _Recorder(s)
        await read(recorder)
        (stmt,) = recorder.statements
        sql = str(stmt.compile(app.state.db.engine, compile_kwargs={"literal_binds": True}))
        await s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in await s.execute(text(f"EXPLAIN {sql}")))
    lines = [
        x for x in plan.splitlines() if "Index Cond" in x and re.search(r"\(id\)::text [<>]=", x)
    ]
    return lines, plan


@pytest.mark.postgres
@pytest.mark.parametrize("reader", ["search", "search_oldest_first", "api_list"])
async def test_a_creation_period_bounds_the_walk_by_id_from_the_periods_own_ids(
    app: Any, reader: str
) -> None:
    """Newest first (``ORDER BY id DESC LIMIT n``) with a creation period, PostgreSQL walked
    the primary key from the newest invoice, filtering on ``created_at``: a February page
    read 838,000 invoices of a million. The walk is now bounded by the lowest and highest
    id of the period's invoices (read from the index on the creation time, in the same
    statement), so it starts at the period's newest invoice and stops at its oldest. So too
    for the finance search's pages in the older half, read from the oldest end."""
    if reader.startswith("search"):
        filters = {"service_id": None, "text": None, "status": None, "service_slug": None}
        oldest_first = reader == "search_oldest_first"

        async def read(s: Any) -> Any:
            return await repo.search_invoices(
                s, limit=50, offset=100, oldest_first=oldest_first, **filters, **_period()
            )
    else:

        async def read(s: Any) -> Any:
            return await repo.list_invoices(
                s, service_id=None, limit=10, starting_after=None, status=None,
                reference=None, metadata_key=None, metadata_value=None, **_period(),
            )  # fmt: skip

    lines, plan = await _id_conditions(app, read)
    assert any("<=" in x for x in lines) and any(">=" in x for x in lines), plan


@pytest.mark.postgres
async def test_a_wide_period_is_walked_from_the_newest_invoice(app: Any) -> None:
    """Beyond a quarter the bounds would read most ids (a year: 450 ms against 1 ms for the
    walk, which finds a wide period's newest invoices at once): not added."""
    filters = {"service_id": None, "text": None, "status": None, "service_slug": None}

    async def read(s: Any) -> Any:
        return await repo.search_invoices(s, limit=50, **filters, **_period(days=366))

    lines, plan = await _id_conditions(app, read)
    assert lines == [], plan
