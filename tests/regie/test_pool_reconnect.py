"""A pooled PostgreSQL connection the server closed is replaced at checkout, with no ping.

regie does not ping a connection before each use (``pool_pre_ping`` cost three round
trips per checkout: BEGIN, an empty query, ROLLBACK); instead the pool looks at whether the
driver has seen the server close it, which costs nothing. These tests close the pool's
connections from the server side, as a PostgreSQL restart or an idle-session kill does,
and expect the next use to work rather than fail with a dead connection.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from regie.kit.database import Database

pytestmark = pytest.mark.postgres


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _kill(url: str, pids: list[int]) -> None:
    conn = await asyncpg.connect(_plain(url))
    try:
        killed = await conn.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(p) FROM unnest($1::int[]) p) t",
            pids,
        )
        assert killed == len(pids)
    finally:
        await conn.close()


async def test_a_connection_the_server_closed_is_replaced(
    migrated_urls: dict[str, str], backend: str
) -> None:
    url = migrated_urls[backend]
    db = Database(url)
    try:
        # two connections in the pool, both then closed by the server
        async with db.engine.connect() as a, db.engine.connect() as b:
            pids = [
                (await a.execute(text("SELECT pg_backend_pid()"))).scalar_one(),
                (await b.execute(text("SELECT pg_backend_pid()"))).scalar_one(),
            ]
        await _kill(url, pids)
        await asyncio.sleep(0.2)  # the driver reads the server's goodbye
        for _ in range(3):  # each checkout gets a live connection, not a dead one
            async with db.engine.begin() as conn:
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert pid not in pids
    finally:
        await db.dispose()


async def test_a_session_after_the_server_closed_its_connections_works(
    migrated_urls: dict[str, str], backend: str
) -> None:
    url = migrated_urls[backend]
    db = Database(url)
    try:
        async with db.session() as s:
            pid = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await _kill(url, [pid])
        await asyncio.sleep(0.2)
        async with db.session() as s:
            assert (await s.execute(text("SELECT 41 + 1"))).scalar_one() == 42
    finally:
        await db.dispose()
