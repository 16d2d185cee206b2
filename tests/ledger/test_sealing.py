"""The chain sealer against transactions that commit late (PostgreSQL: several writers)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from ledger.models import ChainSeal
from ledger.posting import Posting, transfer
from ledger.service import NewEntry, post, post_many
from payments.batch_schemas import MAX_BATCH
from regie.kit.database import utcnow


@pytest.mark.postgres
async def test_a_full_batch_committed_after_a_later_entry_is_sealed_once(app: Any) -> None:
    """A batch of invoices (``MAX_BATCH`` entries, one transaction) takes its sequence
    numbers, then a payment posted meanwhile commits first and is sealed. The batch's
    entries are sealed when it commits, each once, and the sealer goes on: it had left
    the batch's first entry out of its window (never sealed) and then sealed the payment
    a second time (a unique violation on every later run: the chain stopped growing)."""
    db, ledger = app.state.db, app.state.ledger
    now = utcnow()
    batch = [
        NewEntry(f"invoice:b{i}:issued", "invoice_issued",
                 transfer("receivable:u", "income:u", 100, "EUR"), now)
        for i in range(MAX_BATCH)
    ]  # fmt: skip
    async with db.session() as bulk:
        await bulk.execute(text("SELECT 1"))  # (COPY runs inside a begun transaction)
        await post_many(bulk, batch)
        async with db.session() as s:
            await post(s, source_key="payment:p:succeeded", kind="payment_succeeded",
                       postings=[Posting("assets:psp:x", "EUR", debit=100),
                                 Posting("receivable:u", "EUR", credit=100)])  # fmt: skip
            await s.commit()
        assert await ledger.seal() == 1
        await bulk.commit()
    while await ledger.seal():
        pass
    async with db.session() as s:
        await post(s, source_key="later", kind="test",
                   postings=transfer("assets:bank:main", "assets:psp:x", 100, "EUR"))  # fmt: skip
        await s.commit()
    assert await ledger.seal() == 1
    result = await ledger.verify()
    assert (result.ok, result.sealed, result.unsealed) == (True, MAX_BATCH + 2, 0), result
    async with db.session() as s:
        count = (await s.execute(select(func.count(func.distinct(ChainSeal.entry_id))))).scalar()
    assert count == MAX_BATCH + 2


@pytest.mark.postgres
async def test_an_entry_committed_after_more_than_10000_later_seals_is_sealed_once(
    app: Any,
) -> None:
    """A long transaction takes its entry's sequence number, then 10,001 entries numbered
    after it (a batch of invoices) commit and are sealed before it commits. Its entry is
    sealed when it commits, once: the sealer only searched from the lowest number among
    its last 10,000 seals on, so the entry was out of its search for ever (``regie ledger
    verify`` counted it unsealed, run after run)."""
    db, ledger = app.state.db, app.state.ledger
    now = utcnow()
    later = [
        NewEntry(f"invoice:l{i}:issued", "invoice_issued",
                 transfer("receivable:u", "income:u", 100, "EUR"), now)
        for i in range(10_001)
    ]  # fmt: skip
    async with db.session() as long:
        await post(long, source_key="payment:slow:succeeded", kind="payment_succeeded",
                   postings=[Posting("assets:psp:x", "EUR", debit=100),
                             Posting("receivable:u", "EUR", credit=100)])  # fmt: skip
        async with db.session() as bulk:
            await bulk.execute(text("SELECT 1"))  # (COPY runs inside a begun transaction)
            await post_many(bulk, later)
            await bulk.commit()
        assert await ledger.seal(batch=len(later)) == len(later)
        await long.commit()
    assert await ledger.seal() == 1
    assert await ledger.seal() == 0
    result = await ledger.verify()
    assert (result.ok, result.sealed, result.unsealed) == (True, len(later) + 1, 0), result


async def test_the_sealer_reads_the_entries_awaiting_their_seal_and_takes_them_out(
    app: Any,
) -> None:
    """Each entry awaits its seal in ``ledger_unsealed`` (put there in its own transaction)
    until the sealer seals it; a row of an entry sealed already (by the sealer of before
    migration 0032, during a deploy) is taken out, and the entry not sealed again."""
    db, ledger = app.state.db, app.state.ledger
    for i in range(3):
        async with db.session() as s:
            await post(s, source_key=f"q{i}", kind="test",
                       postings=transfer("assets:bank:main", "income:u", 100, "EUR"))  # fmt: skip
            await s.commit()

    async def queued() -> list[int]:
        async with db.session() as s:
            return list((await s.execute(text("SELECT seq FROM ledger_unsealed"))).scalars())

    assert len(await queued()) == 3
    assert await ledger.seal(batch=2) == 2
    assert len(await queued()) == 1
    assert await ledger.seal() == 1
    assert await queued() == []
    async with db.session() as s:
        await s.execute(
            text("INSERT INTO ledger_unsealed (seq) SELECT min(seq) FROM ledger_entries")
        )
        await s.commit()
    assert await ledger.seal() == 0
    assert await queued() == []
    result = await ledger.verify()
    assert (result.ok, result.sealed, result.unsealed) == (True, 3, 0), result


async def _delete_last_entry(app: Any) -> str:
    """What someone with the database's rights does to hide the last entry: its seal, its
    lines and itself deleted (the append-only triggers disabled on PostgreSQL)."""
    tables = ("ledger_seals", "ledger_lines", "ledger_entries")
    async with app.state.db.session() as s:
        head = (
            await s.execute(select(ChainSeal).order_by(ChainSeal.position.desc()).limit(1))  # type: ignore[attr-defined]
        ).scalar_one()
        if app.state.db.is_postgres:
            for t in tables:
                await s.execute(text(f"ALTER TABLE {t} DISABLE TRIGGER {t}_append_only"))
        await s.execute(text("DELETE FROM ledger_seals WHERE entry_id = :e"), {"e": head.entry_id})
        await s.execute(text("DELETE FROM ledger_lines WHERE entry_id = :e"), {"e": head.entry_id})
        await s.execute(text("DELETE FROM ledger_entries WHERE id = :e"), {"e": head.entry_id})
        if app.state.db.is_postgres:
            for t in tables:
                await s.execute(text(f"ALTER TABLE {t} ENABLE TRIGGER {t}_append_only"))
        await s.commit()
    return head.entry_id


async def test_a_truncated_tail_is_found_against_the_head_recorded_before(app: Any) -> None:
    """The chain alone cannot tell that its last entries were removed (what is left still
    verifies); the head ``verify`` gave (position and hash), checked again later, can."""
    ledger = app.state.ledger
    for i in range(3):
        async with app.state.db.session() as s:
            await post(s, source_key=f"k{i}", kind="test",
                       postings=transfer("assets:bank:main", "income:u", 100 + i, "EUR"))  # fmt: skip
            await s.commit()
    assert await ledger.seal() == 3
    before = await ledger.verify()
    assert (before.ok, before.sealed) == (True, 3) and before.head is not None
    assert (await ledger.verify(head=before.head)).ok
    await _delete_last_entry(app)
    assert (await ledger.verify()).ok  # what is left is a chain of its own
    bad = await ledger.verify(head=before.head)
    assert (bad.ok, bad.sealed) == (False, 2)
    assert bad.reason == "the chain ends at position 2, before the recorded head (position 3)"
    other = (before.head[0] - 1, "0" * 64)  # a head this chain never had
    bad = await ledger.verify(head=other)
    assert (bad.ok, bad.sealed) == (False, 1)
    assert bad.reason == "the entry at position 2 is not the recorded head (another hash)"


async def test_the_cli_gives_the_head_and_checks_it(app: Any, settings: Any) -> None:
    import asyncio
    import os
    import subprocess

    from tests.ledger.test_ledger_db import REGIE

    async with app.state.db.session() as s:
        await post(s, source_key="k", kind="test",
                   postings=transfer("assets:bank:main", "income:u", 100, "EUR"))  # fmt: skip
        await s.commit()
    env = {**os.environ, "REGIE_DATABASE_URL": settings.database_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([REGIE, "ledger", "verify", *args], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    ok = await asyncio.to_thread(run, "--seal-first")
    assert ok.returncode == 0, ok.stderr
    head = ok.stdout.split("head ")[1].strip()
    position, digest = head.split(":")
    assert position == "1" and len(digest) == 64
    assert (await asyncio.to_thread(run, "--head", head)).returncode == 0
    await _delete_last_entry(app)
    bad = await asyncio.to_thread(run, "--head", head)
    assert bad.returncode == 1
    assert "the chain ends at position 0, before the recorded head (position 1)" in bad.stderr
    assert (await asyncio.to_thread(run, "--head", "x")).returncode == 2


async def test_an_entry_taken_out_of_ledger_unsealed_unsealed_fails_verify(app: Any) -> None:
    """An entry whose row in ``ledger_unsealed`` is deleted (or the table truncated) before
    it is sealed is never sealed: the sealer reads that table only. ``verify`` fails and
    names it (it said OK, the entry counted among those awaiting their seal, run after
    run, while the /metrics gauge, which counts the table, said none awaited it)."""
    db, ledger = app.state.db, app.state.ledger
    ids = []
    for key in ("kept", "dropped"):
        async with db.session() as s:
            ids.append(await post(s, source_key=key, kind="test",
                                  postings=transfer("assets:bank:main", "income:u", 100, "EUR")))  # fmt: skip
            await s.commit()
    assert await ledger.seal(batch=1) == 1
    async with db.session() as s:
        await s.execute(text("DELETE FROM ledger_unsealed"))
        await s.commit()
    assert await ledger.seal() == 0
    result = await ledger.verify()
    assert (result.ok, result.sealed, result.unsealed, result.first_bad_entry) == (
        False, 1, 1, ids[1],
    ), result  # fmt: skip
    assert "ledger_unsealed" in (result.reason or "")


@pytest.mark.postgres
async def test_verify_counts_the_unsealed_entries_without_a_plan_quadratic_in_the_seals(
    app: Any,
) -> None:
    """``regie ledger verify`` counts the entries not sealed yet. Once the seals' ids do not
    fit PostgreSQL's ``work_mem`` (4 MB: about 100,000 seals, a month of a city), an
    ``id NOT IN (seals)`` is checked row by row against every seal, a plan costed at 7e9
    for a million of each: verify never ends. An anti-join reads each table once. The plan
    is read here at a ``work_mem`` the seals of this test overflow."""
    from ledger import repository as repo

    now = utcnow()
    entries = [
        NewEntry(f"invoice:w{i}:issued", "invoice_issued",
                 transfer("receivable:u", "income:u", 100, "EUR"), now)
        for i in range(3000)
    ]  # fmt: skip
    async with app.state.db.session() as s:
        await s.execute(text("SELECT 1"))
        await post_many(s, entries)
        await s.commit()
    assert await app.state.ledger.seal(batch=2990) == 2990
    async with app.state.db.session() as s:
        await s.execute(text("SET LOCAL work_mem = '64kB'"))
        stmt = repo.unsealed_count_statement()
        sql = str(stmt.compile(app.state.db.engine, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(r[0] for r in await s.execute(text(f"EXPLAIN {sql}")))
        assert "SubPlan" not in plan, plan
        assert await repo.count_unsealed(s) == 10
