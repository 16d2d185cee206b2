"""``regie.kit.bulk.write_together``: several writes of one transaction in one round trip on
PostgreSQL (data-modifying CTEs), one by one on SQLite; all or nothing either way. And the
hot path that uses it: creating an invoice costs a fixed, small number of statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert, literal, select, update
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.exc import IntegrityError

from ledger.posting import Posting
from ledger.service import post
from regie.kit.bulk import bulk_insert, write_together
from regie.kit.database import Database
from regie.kit.keycache import KeyCache
from regie.kit.sequences import Sequence as Counter
from tests.conftest import Keys, invoice_body

COUNTERS = Counter.__table__  # type: ignore[attr-defined]


@contextmanager
def statements(engine: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


@contextmanager
def cache_misses(engine: Any) -> Iterator[list[str]]:
    """The statements run meanwhile that SQLAlchemy compiled instead of taking from its cache
    (SQLite's BEGIN IMMEDIATE, sent with exec_driver_sql, has no cache key: left out)."""
    misses: list[str] = []

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any
    ) -> None:
        if context is not None and context.cache_hit != CacheStats.CACHE_HIT:
            if "BEGIN" not in statement:
                misses.append(f"{context.cache_hit.name}: {' '.join(statement.split())[:120]}")

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield misses
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


def _row(scope: str, value: int) -> dict[str, Any]:
    return {"scope": scope, "period": "2026", "last_value": value}


async def _stored(db: Database, prefix: str) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(
            select(COUNTERS.c.scope, COUNTERS.c.last_value).where(
                COUNTERS.c.scope.startswith(prefix)
            )
        )
        return {scope: value for scope, value in rows.all()}


async def test_every_write_lands_and_postgresql_gets_them_in_one_statement(
    settings: Any, backend: str
) -> None:
    db = Database(settings.database_url)
    try:
        async with db.session() as s:
            await s.execute(insert(COUNTERS).values(_row("wt:old", 1)))
            await s.commit()
        async with db.session() as s:
            with statements(db.engine) as seen:
                await write_together(
                    s,
                    [
                        insert(COUNTERS).values([_row("wt:a", 1), _row("wt:b", 2)]),
                        insert(COUNTERS).values(_row("wt:c", 3)),
                        update(COUNTERS).where(COUNTERS.c.scope == "wt:old").values(last_value=9),
                    ],
                )
            await s.commit()
        assert await _stored(db, "wt:") == {"wt:a": 1, "wt:b": 2, "wt:c": 3, "wt:old": 9}
        writes = [x for x in seen if x.split(" ", 1)[0] in {"WITH", "INSERT", "UPDATE"}]
        assert len(writes) == (1 if backend == "postgresql" else 3)
    finally:
        await db.dispose()


async def test_one_failing_write_leaves_nothing_of_the_others(settings: Any, backend: str) -> None:
    db = Database(settings.database_url)
    try:
        async with db.session() as s:
            await s.execute(insert(COUNTERS).values(_row("wt2:taken", 1)))
            await s.commit()
        async with db.session() as s:
            with pytest.raises(IntegrityError):
                await write_together(
                    s,
                    [
                        insert(COUNTERS).values(_row("wt2:new", 1)),
                        update(COUNTERS)
                        .where(COUNTERS.c.scope == "wt2:taken")
                        .values(last_value=5),
                        insert(COUNTERS).values(_row("wt2:taken", 7)),  # the primary key again
                    ],
                )
            await s.rollback()
        assert await _stored(db, "wt2:") == {"wt2:taken": 1}
    finally:
        await db.dispose()


async def test_creating_an_invoice_costs_three_statements_on_postgresql(
    app: Any, client: httpx.AsyncClient, keys: Keys, backend: str, monkeypatch: Any
) -> None:
    """The idempotency claim, the gap-free number, then every row of the invoice (the
    invoice, its lines, its audit row, its ledger entry and lines, the stored answer) in
    one statement; and the commit. On SQLite the rows go one by one."""
    # the key's lookup is remembered for a second (regie.kit.keycache); on a slow machine
    # that second ran out between the two requests and the lookup fell into the count: the
    # count is of the hot path, with the key remembered, so the memory outlasts the test
    monkeypatch.setattr(app.state, "key_cache", KeyCache(ttl=3600.0))
    h = keys.h(keys.urbanisme, **{"Idempotency-Key": "wt-count"})
    # a first invoice: the key is looked up and the year's counter row created
    first = await client.post("/v1/invoices", json=invoice_body(reference="WT-0"), headers=h)
    assert first.status_code == 201, first.text
    h = keys.h(keys.urbanisme, **{"Idempotency-Key": "wt-count-2"})
    with statements(app.state.db.engine) as seen:
        r = await client.post("/v1/invoices", json=invoice_body(reference="WT-1"), headers=h)
    assert r.status_code == 201, r.text
    if backend == "postgresql":
        assert [x.split(" ", 1)[0] for x in seen] == ["INSERT", "UPDATE", "WITH"], seen
        # the invoice, its line, its audit row, its ledger entry and two lines: single-row
        # INSERTs (cached compiled forms), and the stored answer's UPDATE
        assert seen[-1].count(" AS (INSERT INTO ") == 6 and " AS (UPDATE " in seen[-1]
    else:  # the same statements one by one (each transaction starts with BEGIN IMMEDIATE)
        writes = [x.split(" ", 1)[0] for x in seen if not x.startswith("BEGIN")]
        assert writes == ["INSERT", "UPDATE", *["INSERT"] * 6, "UPDATE"], seen
    replay = await client.post("/v1/invoices", json=invoice_body(reference="WT-1"), headers=h)
    assert replay.status_code == 201 and replay.json() == r.json()
    assert r.json()["number"].endswith("-000002")  # the number allocated in the transaction


async def test_creating_invoices_compiles_no_statement_after_the_first(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Every statement of an invoice's creation comes from SQLAlchemy's compiled cache once
    one invoice was made (a statement it cannot cache, such as a multi-row VALUES insert,
    is compiled again on every request: a third of the server's CPU, measured)."""
    for i in range(2):  # two shapes warm up: with and without an Idempotency-Key
        r = await client.post(
            "/v1/invoices",
            json=invoice_body(reference=f"WARM-{i}"),
            headers=keys.h(keys.urbanisme, **({"Idempotency-Key": f"warm-{i}"} if i else {})),
        )
        assert r.status_code == 201, r.text
    with cache_misses(app.state.db.engine) as misses:
        for i, idem in enumerate([{}, {"Idempotency-Key": "cached-1"}]):
            r = await client.post(
                "/v1/invoices",
                json=invoice_body(reference=f"CACHED-{i}"),
                headers=keys.h(keys.urbanisme, **idem),
            )
            assert r.status_code == 201, r.text
    assert misses == []


async def test_posting_to_the_ledger_compiles_no_statement_after_the_first(app: Any) -> None:
    """``ledger.post`` (every payment event posts two entries) is one cached statement on
    PostgreSQL, whatever the amounts: its lines' values are bound parameters."""

    async def post_one(n: int) -> None:
        async with app.state.db.session() as s:
            posted = await post(
                s,
                source_key=f"cache:{n}",
                kind="test",
                postings=[Posting("a", "EUR", debit=n), Posting("b", "EUR", credit=n)],
            )
            assert posted is not None
            await s.commit()

    await post_one(1)
    with cache_misses(app.state.db.engine) as misses:
        await post_one(2)
        await post_one(3)
    assert misses == []


async def test_bulk_rows_land_and_postgresql_takes_them_with_copy_not_inserts(
    settings: Any, backend: str
) -> None:
    """``bulk_insert`` (batches of invoices, webhook deliveries, state changes): on
    PostgreSQL the rows stream in by COPY on the session's connection, no INSERT statement
    sent; on SQLite one executemany INSERT. Either way they commit with the transaction."""
    db = Database(settings.database_url)
    try:
        async with db.session() as s:
            await s.execute(select(literal(1)))  # the transaction begins (COPY runs in it)
            with statements(db.engine) as seen:
                await bulk_insert(s, COUNTERS, [_row(f"bk:{i}", i) for i in range(50)])
            await s.commit()
        assert await _stored(db, "bk:") == {f"bk:{i}": i for i in range(50)}
        inserts = [x for x in seen if x.startswith("INSERT")]
        assert len(inserts) == (0 if backend == "postgresql" else 1), inserts
    finally:
        await db.dispose()
