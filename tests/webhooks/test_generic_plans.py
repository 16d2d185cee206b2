"""The queries that read the partial index ``ix_webhook_deliveries_endpoint_due`` (an
endpoint's pending rows, ``WHERE status = 'pending'``) still read it in a prepared
statement's generic plan (PostgreSQL).

asyncpg prepares every statement, and after five executions PostgreSQL may plan it once for
any parameters (a generic plan). A predicate ``status = $1`` cannot prove the index's
``status = 'pending'`` there, so the index is not usable: a claim then read every pending
due row of every endpoint for each endpoint and lane, and draining a backlog cost its
square. Each statement is taken as regie sends it (SQL and parameters) and explained under
``plan_cache_mode = force_generic_plan``; sequential scans are off so that only whether the
index can be used is asked, not what the empty tables' costs prefer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Keys
from tests.webhooks.notify_kit import register
from webhooks.outbound.rules import LANES

INDEX = "ix_webhook_deliveries_endpoint_due"

pytestmark = pytest.mark.postgres


@contextmanager
def sent(engine: AsyncEngine) -> Iterator[list[tuple[str, Sequence[Any]]]]:
    """Every statement (SQL, parameters) the engine sends meanwhile."""
    seen: list[tuple[str, Sequence[Any]]] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


async def generic_plan(engine: AsyncEngine, sql: str, parameters: Sequence[Any]) -> str:
    """The plan PostgreSQL runs ``sql`` with once it has switched its prepared statement to
    a generic plan."""
    async with engine.connect() as conn:  # a transaction of its own, rolled back
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        await conn.exec_driver_sql(f"PREPARE hot AS {sql}")
        try:
            args = f"({', '.join(map(_literal, parameters))})" if parameters else ""
            plan = await conn.exec_driver_sql(f"EXPLAIN EXECUTE hot{args}")
            text = "\n".join(row[0] for row in plan)
        finally:
            await conn.exec_driver_sql("DEALLOCATE hot")
        await conn.rollback()
    assert "$" in text or not parameters  # a generic plan indeed: it shows the parameters
    return text


def one(seen: list[tuple[str, Sequence[Any]]], start: str) -> tuple[str, Sequence[Any]]:
    (found,) = [(sql, p) for sql, p in seen if sql.lstrip().startswith(start)]
    return found


async def test_a_claim_reads_each_lane_of_an_endpoint_from_the_partial_index(
    client: httpx.AsyncClient, app: Any, keys: Keys, notifications: Any
) -> None:
    await register(client, keys.urbanisme, "http://127.0.0.1:9/hook")
    engine = app.state.db.engine
    with sent(engine) as seen:
        assert await notifications._claim(10, dt.datetime.now(dt.UTC)) == []
    sql, parameters = one(seen, "SELECT webhook_deliveries.id")
    plan = await generic_plan(engine, sql, parameters)
    for lane in LANES:  # one range of the index a lane (webhooks.outbound.claims)
        assert f"{INDEX} on webhook_deliveries due_{lane}" in plan, plan


async def test_a_deleted_endpoints_pending_rows_are_given_up_from_the_partial_index(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    endpoint = await register(client, keys.urbanisme, "http://127.0.0.1:9/hook")
    engine = app.state.db.engine
    with sent(engine) as seen:
        r = await client.delete(
            f"/v1/webhook-endpoints/{endpoint['id']}", headers=Keys.h(keys.urbanisme)
        )
        assert r.status_code == 200, r.text
    sql, parameters = one(seen, "UPDATE webhook_deliveries")
    plan = await generic_plan(engine, sql, parameters)
    assert f"{INDEX} on webhook_deliveries" in plan, plan
