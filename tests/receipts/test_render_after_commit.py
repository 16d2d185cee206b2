"""Receipts rendered after the paying transaction (issue 12): the transaction freezes the
document and takes its gap-free number last; the worker's drain renders the PDF; a download
that comes first renders it on the spot; racing renders store one file."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import threading
import time

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import DBAPIError

import receipts.files as receipt_files
from receipts.files import ReceiptFiles, ReceiptIntegrityError
from receipts.models import Receipt, ReceiptFile, ReceiptRender
from receipts.rendering import pdf_of_snapshot
from regie.kit.database import utcnow
from tests.conftest import Keys, create_invoice, pay, token_of


async def rows(app, model) -> list:
    async with app.state.db.session() as s:
        return list((await s.execute(select(model))).scalars())


async def files_count(app) -> int:
    async with app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(ReceiptFile))).scalar_one())


def failing_render(document):
    raise RuntimeError("renderer crashed")


async def test_the_paying_transaction_renders_nothing_and_the_drain_renders_after(
    client, app, keys: Keys, monkeypatch
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    monkeypatch.setattr(receipt_files, "pdf_of_snapshot", failing_render)
    await pay(client, inv, apply=app)  # a renderer that fails cannot fail the payment
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == "paid"
    (receipt,) = await rows(app, Receipt)
    assert receipt.number.endswith("-000001") and receipt.pdf is None
    (queued,) = await rows(app, ReceiptRender)
    assert queued.receipt_id == receipt.id and await files_count(app) == 0
    # the drain's render fails: the receipt stays queued, to be tried again later
    assert await app.state.receipts.files.render_due(20) == 1
    (queued,) = await rows(app, ReceiptRender)
    assert queued.attempts == 1 and queued.lease_until > utcnow()
    assert await app.state.receipts.files.render_due(20) == 0  # not before its retry time
    monkeypatch.undo()
    async with app.state.db.session() as s:
        await s.execute(update(ReceiptRender).values(lease_until=utcnow()))
        await s.commit()
    assert await app.state.receipts.files.render_due(20) == 1
    assert await rows(app, ReceiptRender) == []
    (stored,) = await rows(app, ReceiptFile)
    assert stored.receipt_id == receipt.id
    assert stored.sha256 == hashlib.sha256(stored.pdf).hexdigest()
    assert stored.pdf == pdf_of_snapshot(receipt.document)  # deterministic from the snapshot
    d = await client.get(f"/v1/invoices/{inv['id']}/receipt.pdf", headers=Keys.h(keys.urbanisme))
    assert d.content == stored.pdf and d.headers["x-receipt-sha256"] == stored.sha256


async def test_a_download_before_the_drain_renders_and_stores_it_once(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    first = await client.get(f"/pay/{token_of(inv)}/receipt.pdf")
    assert first.status_code == 200 and first.content.startswith(b"%PDF")
    (stored,) = await rows(app, ReceiptFile)
    assert stored.pdf == first.content
    assert await app.state.receipts.files.render_due(20) == 1  # its queue entry goes
    assert await rows(app, ReceiptRender) == [] and await files_count(app) == 1
    again = await client.get(
        f"/v1/invoices/{inv['id']}/receipt.pdf", headers=Keys.h(keys.urbanisme)
    )
    assert again.content == first.content


async def test_a_download_racing_the_render_job_stores_one_document(
    client, app, keys: Keys, monkeypatch
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    (receipt,) = await rows(app, Receipt)
    calls = {"n": 0}

    def slow_render(document):
        calls["n"] += 1
        time.sleep(0.3)  # every render overlaps the others
        return pdf_of_snapshot(document)

    monkeypatch.setattr(receipt_files, "pdf_of_snapshot", slow_render)
    files = app.state.receipts.files
    downloads = [
        client.get(f"/v1/invoices/{inv['id']}/receipt.pdf", headers=Keys.h(keys.urbanisme))
        for _ in range(2)
    ]
    drained, *answers = await asyncio.gather(
        files.render_due(20), files.pdf_of(receipt), *downloads
    )
    assert drained == 1 and calls["n"] == 4  # four renders raced
    assert await files_count(app) == 1
    (stored,) = await rows(app, ReceiptFile)
    assert answers[0] == (stored.pdf, stored.sha256)
    assert all(a.content == stored.pdf for a in answers[1:])


async def test_the_receipt_counter_is_taken_last_in_the_paying_transaction(
    client, app, keys: Keys
) -> None:
    await pay(client, await create_invoice(client, keys.urbanisme, reference="A"), apply=app)
    inv = await create_invoice(client, keys.urbanisme, reference="B")
    await pay(client, inv)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(" ".join(statement.split()).upper())

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert await app.state.applier.process_batch() == 1
    finally:
        event.remove(engine, "before_cursor_execute", record)
    counter = [i for i, x in enumerate(statements) if x.startswith("UPDATE NUMBER_SEQUENCES")]
    assert len(counter) == 1, statements
    after = statements[counter[0] + 1 :]
    assert after and all(
        x.startswith(("INSERT INTO RECEIPTS", "INSERT INTO RECEIPT_RENDERS")) for x in after
    ), after
    (_, second) = sorted(r.number for r in await rows(app, Receipt))
    assert second.endswith("-000002")


async def test_a_stored_file_that_no_longer_matches_its_hash_is_never_served(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    assert await app.state.receipts.files.render_due(20) == 1
    (receipt,) = await rows(app, Receipt)
    async with app.state.db.session() as s:
        if app.state.db.is_postgres:  # append-only there: the change itself is refused
            with pytest.raises(DBAPIError, match="never changed"):
                await s.execute(update(ReceiptFile).values(pdf=b"%PDF-forged"))
            return
        await s.execute(update(ReceiptFile).values(pdf=b"%PDF-forged"))
        await s.commit()
    with pytest.raises(ReceiptIntegrityError):
        await app.state.receipts.pdf(receipt)


async def test_a_render_a_dead_worker_claimed_is_taken_over_after_the_worker_lease(
    client, app, keys: Keys, settings_factory
) -> None:
    """REGIE_WORKER_LEASE_SECONDS governs receipts to render as it does inbox events (the
    fault drill found renders claimed during a database restart waiting a fixed 30 s)."""
    from regie.composition import build_services

    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    worker = build_services(settings_factory(worker_lease_seconds=7))
    try:
        before = utcnow()
        _, claimed = await worker.receipts.files._claim(20)  # … and the worker dies there
        after = utcnow()
    finally:
        await worker.close()
    assert len(claimed) == 1
    (queued,) = await rows(app, ReceiptRender)
    lease = dt.timedelta(seconds=7)
    assert before + lease <= queued.lease_until <= after + lease


@pytest.mark.postgres
async def test_a_render_that_failed_after_another_worker_took_it_over_leaves_its_lease(
    client, app, keys: Keys, monkeypatch
) -> None:
    """The lease a claim set is its fencing token, as in the inbox: a worker whose render
    fails after its lease lapsed and another worker took the receipt over does not push
    the other's lease back to its retry time. The lapse is simulated by moving the lease
    to now, never by sleeping."""
    await pay(client, await create_invoice(client, keys.urbanisme), apply=app)
    rendering, fail_now = threading.Event(), threading.Event()

    def late_failing_render(document):
        rendering.set()
        fail_now.wait(timeout=30)  # a slow render, past its lease
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(receipt_files, "pdf_of_snapshot", late_failing_render)
    slow = asyncio.create_task(app.state.receipts.files.render_due(20))
    assert await asyncio.to_thread(rendering.wait, 30)
    async with app.state.db.session() as s:  # the slow worker's lease lapses
        await s.execute(update(ReceiptRender).values(lease_until=utcnow()))
        await s.commit()
    await ReceiptFiles(app.state.db)._claim(20)  # another worker takes the receipt over
    (taken,) = await rows(app, ReceiptRender)
    assert taken.attempts == 2 and taken.lease_until > utcnow()
    fail_now.set()
    assert await slow == 1
    (queued,) = await rows(app, ReceiptRender)
    assert queued.lease_until == taken.lease_until  # still the other worker's lease
    assert queued.attempts == 2


async def test_the_drain_renders_at_most_its_limit_and_leaves_the_rest_queued(
    client, app, keys: Keys
) -> None:
    for ref in ("A", "B", "C"):
        await pay(client, await create_invoice(client, keys.urbanisme, reference=ref), apply=app)
    files = app.state.receipts.files
    assert await files.render_due(2) == 2  # one batch takes no more than its limit
    assert await files_count(app) == 2
    (left,) = await rows(app, ReceiptRender)
    assert left.attempts == 0 and left.lease_until is None  # not claimed, free for the next
    assert await files.render_due(2) == 1
    assert await rows(app, ReceiptRender) == [] and await files_count(app) == 3


async def test_a_receipt_issued_with_its_pdf_on_its_row_is_served_as_issued_and_checked(
    client, app, keys: Keys
) -> None:
    """Receipts issued before migration 0020 carry their PDF and SHA-256 on the receipt row:
    those bytes are served as issued (never rendered again), and only if they still match."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    (receipt,) = await rows(app, Receipt)
    issued = b"%PDF-1.4 issued by an older regie"
    sha = hashlib.sha256(issued).hexdigest()
    legacy = receipt.model_copy(update={"pdf": issued, "sha256": sha})
    assert await app.state.receipts.pdf(legacy) == (issued, sha)
    assert await files_count(app) == 0  # nothing rendered nor stored for it
    tampered = receipt.model_copy(update={"pdf": issued + b"forged", "sha256": sha})
    with pytest.raises(ReceiptIntegrityError):
        await app.state.receipts.pdf(tampered)


async def test_a_render_that_failed_within_its_lease_is_put_off_to_its_retry_time(
    client, app, keys: Keys, monkeypatch
) -> None:
    """The fence above compares the row's lease with the one the claim set: on both
    databases (SQLite keeps instants as text) a render that failed while its lease held
    is put off by ``RETRY``, never read as a lease lost (then it would be tried again as
    soon as its lease lapsed)."""
    await pay(client, await create_invoice(client, keys.urbanisme), apply=app)

    def failing_render(document):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(receipt_files, "pdf_of_snapshot", failing_render)
    before = utcnow()
    assert await app.state.receipts.files.render_due(20) == 1
    (queued,) = await rows(app, ReceiptRender)
    assert queued.attempts == 1
    assert queued.lease_until >= before + receipt_files.RETRY
