"""The fault drill, short (``bench/drill.py``; PostgreSQL only): 200 PSP events (60 of them
duplicates) from 8 senders to two ``regie serve`` processes, two ``regie worker``
processes, one of them SIGKILLed and started again, and every backend of the drill's
database terminated mid-run. Every check of the drill must pass: the inbox holds each event
once, applied; the invoices, the ledger's balances and the outbox equal a serial replay's;
``regie ledger verify`` passes; each notification reached the receiver once per event id.

The drill runs on two scratch databases named after the test database (``<name>_drill``
and ``<name>_drill_replay``), dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest

from bench import drill
from bench.http_invoices import _plain

PG_URL = os.environ.get("REGIE_TEST_DATABASE_URL", "")

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]


async def _drop(*urls: str) -> None:
    base = _plain(urls[0]).rsplit("/", 1)[0]
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        for url in urls:
            name = _plain(url).rsplit("/", 1)[1]
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


def test_regie_survives_a_killed_worker_and_a_cut_database_with_its_books_and_word_intact(
    tmp_path: Path,
) -> None:
    url = f"{PG_URL}_drill"
    opts = drill.Options(
        database_url=url,
        replay_database_url=f"{url}_replay",
        events=200,
        pg_fault="terminate",
        timeout=150,
        logs=tmp_path,  # the processes' logs, kept by pytest for a failure's post-mortem
    )
    try:
        report = asyncio.run(drill.run(opts))
    finally:
        asyncio.run(_drop(url, opts.replay_url))
    text = "\n".join(report.lines())
    assert [c.name for c in report.checks if not c.ok] == [], text
    f = report.figures
    assert (f["sent"], f["unique"], f["duplicates"]) == (200, 140, 60), text
    assert f["acked"] == 200 and f["applied"] == 140, text
    # the faults did happen: a worker killed and started again, the database cut off
    assert f["worker_restarts"] == 1 and f["pg_restarts"] == 1, text
    assert len(report.faults) == 2, text
    # the events were a mix: payments that paid, failed, or were superseded
    assert "declined_then_paid" in f["scenarios"] and "ignored" in f["inbox_status"], text
