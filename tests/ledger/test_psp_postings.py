"""The PSP postings the ledger keeps with a payment's entry (``ledger_psp_postings``): what
reconciliation reads the ledger's payments from, with no join."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ledger.models import JournalEntry, JournalLine, PspPosting
from ledger.posting import Posting
from ledger.service import PspRef, post, psp_posting_rows
from payments.accounting import keep_missing_psp_postings
from payments.models import Payment
from tests.conftest import Keys, create_invoice, pay, pay_twice


async def _all(app, model):  # noqa: ANN001, ANN202
    async with app.state.db.session() as s:
        return list((await s.execute(select(model))).scalars())


async def test_a_paid_invoice_keeps_its_payments_psp_id_amount_and_fee_with_its_entry(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    done = await pay(client, inv, apply=app)
    (payment,) = [p for p in await _all(app, Payment) if p.id == done.payment_id]
    assert payment.provider_payment_id and payment.fee
    (kept,) = await _all(app, PspPosting)
    entries = {e.id: e for e in await _all(app, JournalEntry)}
    entry = entries[kept.entry_id]
    assert entry.source_key == f"payment:{payment.id}:succeeded"
    (line,) = [x for x in await _all(app, JournalLine)
               if x.entry_id == entry.id and x.account == "assets:psp:simulator"]  # fmt: skip
    assert (kept.kind, kept.account, kept.reference, kept.amount, kept.currency, kept.fee) == (
        "payment_succeeded", "assets:psp:simulator", payment.provider_payment_id,
        line.debit - line.credit, "EUR", payment.fee,
    )  # fmt: skip
    assert kept.effective_at == entry.effective_at


async def test_an_overpayment_is_kept_too(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    kept = await _all(app, PspPosting)
    assert sorted(k.kind for k in kept) == ["overpayment", "payment_succeeded"]
    refs = {p.provider_payment_id for p in await _all(app, Payment)}
    assert {k.reference for k in kept} == refs and len(refs) == 2


async def test_a_source_key_posted_again_keeps_nothing_more(app) -> None:
    ref = PspRef("assets:psp:x", "pi_1", 30, "EUR")
    lines = [
        Posting("assets:psp:x", "EUR", debit=1000),
        Posting("receivable:y", "EUR", credit=1000),
    ]
    async with app.state.db.session() as s:
        assert await post(s, source_key="k", kind="payment_succeeded", postings=lines, psp=ref)
        assert (
            await post(s, source_key="k", kind="payment_succeeded", postings=lines, psp=ref) is None
        )
        await s.commit()
    (kept,) = await _all(app, PspPosting)
    assert (kept.reference, kept.amount, kept.fee) == ("pi_1", 1000, 30)


def test_a_fee_taken_in_another_currency_is_not_counted_in_the_lines() -> None:
    row = {"id": "je_1", "kind": "payment_succeeded", "effective_at": None}
    lines = [Posting("assets:psp:x", "XPF", debit=500), Posting("receivable:y", "XPF", credit=500),
             Posting("assets:psp:x", "EUR", debit=7), Posting("income:y", "EUR", credit=7)]  # fmt: skip
    got = psp_posting_rows(row, lines, PspRef("assets:psp:x", "pi_1", 40, "EUR"))
    assert [(r["currency"], r["amount"], r["fee"]) for r in got] == [
        ("XPF", 500, 0),
        ("EUR", 7, 40),
    ]
    same = psp_posting_rows(row, lines[:2], PspRef("assets:psp:x", "pi_1", 40, None))
    assert [(r["currency"], r["fee"]) for r in same] == [("XPF", 40)]  # no currency: the line's


@pytest.mark.postgres
async def test_postgres_refuses_to_change_a_kept_posting(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    for statement in ("UPDATE ledger_psp_postings SET fee = 0", "DELETE FROM ledger_psp_postings"):
        async with app.state.db.session() as s:
            with pytest.raises(DBAPIError, match="append-only"):
                await s.execute(text(statement))
            await s.rollback()
    assert len(await _all(app, PspPosting)) == 1


def test_migration_0021_keeps_the_payments_booked_before_it(tmp_path: Path) -> None:
    """On SQLite (the demo's database), upgraded from 0020 with a payment already booked:
    its PSP posting is written from the entry, its line on the PSP's account and the
    payment (PostgreSQL: ``tests/reconciliation/test_bulk.py``, on odd bookings)."""
    import sqlite3

    from regie.migrate import upgrade

    path = tmp_path / "old.db"
    upgrade(f"sqlite+aiosqlite:///{path}", "0020")
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO ledger_entries (seq, id, source_key, kind, invoice_id, description, "
        "effective_at, created_at) VALUES (1, 'je_1', 'payment:pay_1:succeeded', "
        "'payment_succeeded', 'inv_1', '', '2026-10-01 10:00:00.000000', "
        "'2026-10-01 10:00:00.000000')"
    )
    db.execute(
        "INSERT INTO ledger_lines (entry_id, position, account, currency, debit, credit) "
        "VALUES ('je_1', 0, 'assets:psp:simulator', 'EUR', 2500, 0), "
        "('je_1', 1, 'receivable:x', 'EUR', 0, 2500)"
    )
    db.execute(
        "INSERT INTO payments (id, invoice_id, service_id, provider, status, amount, currency,"
        " is_overpayment, check_count, created_at, updated_at, close_attempts, "
        "provider_payment_id, fee) VALUES ('pay_1', 'inv_1', 'svc', 'simulator', 'succeeded',"
        " 2500, 'EUR', 0, 0, '2026-10-01', '2026-10-01', 0, 'pi_1', 60)"
    )
    db.commit()
    db.close()
    upgrade(f"sqlite+aiosqlite:///{path}")
    db = sqlite3.connect(path)
    kept = list(db.execute("SELECT entry_id, kind, account, reference, amount, currency, fee "
                           "FROM ledger_psp_postings"))  # fmt: skip
    db.close()
    assert kept == [("je_1", "payment_succeeded", "assets:psp:simulator", "pi_1", 2500, "EUR", 60)]


async def test_the_postings_of_payments_booked_without_them_are_kept_once(
    client, app, keys: Keys
) -> None:
    """A payment booked by a regie older than migration 0021, still running after the
    upgrade, has no PSP posting: ``regie maintenance psp-postings`` writes it, once."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    (kept,) = await _all(app, PspPosting)
    async with app.state.db.session() as s:  # booked as the older regie books it
        if app.state.db.is_postgres:
            await s.execute(text("SET LOCAL session_replication_role = replica"))
        await s.execute(text("DELETE FROM ledger_psp_postings"))
        await s.commit()
    assert await _all(app, PspPosting) == []
    for written in (1, 0):
        async with app.state.db.session() as s:
            assert await keep_missing_psp_postings(s) == written
            await s.commit()
    (again,) = await _all(app, PspPosting)
    assert again.model_dump(exclude={"id"}) == kept.model_dump(exclude={"id"})


@pytest.mark.postgres
async def test_two_catch_ups_at_once_write_a_missing_posting_once(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    async with app.state.db.session() as s:
        await s.execute(text("SET LOCAL session_replication_role = replica"))
        await s.execute(text("DELETE FROM ledger_psp_postings"))
        await s.commit()
    async with app.state.db.session() as first:
        assert await keep_missing_psp_postings(first) == 1  # not committed yet

        async def second() -> int:
            async with app.state.db.session() as s:
                written = await keep_missing_psp_postings(s)
                await s.commit()
                return written

        other = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not other.done()  # it waits for the first catch-up's transaction
        await first.commit()
    assert await other == 0
    assert len(await _all(app, PspPosting)) == 1


async def test_a_catch_up_after_a_fee_booked_late_counts_that_fee_once(
    client, app, keys: Keys
) -> None:
    """A payment whose success an older regie booked without its PSP posting, and without
    its fee (the PSP had not reported it yet), whose fee this regie then booked late, with
    its own posting (``accounting_fees.payment_fee_late``): the catch-up writes the
    payment's posting with no fee, so reconciliation, which adds the two, counts it once."""
    from payments.accounting_fees import payment_fee_late
    from payments.models import Invoice

    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    (p,) = await _all(app, Payment)
    assert p.fee
    async with app.state.db.session() as s:  # booked as the older regie booked it
        if app.state.db.is_postgres:
            await s.execute(text("SET LOCAL session_replication_role = replica"))
        await s.execute(text("DELETE FROM ledger_psp_postings"))
        fee_entry = select(JournalEntry.id).where(
            JournalEntry.source_key == f"payment:{p.id}:fee"  # type: ignore[arg-type]
        )
        (entry_id,) = (await s.execute(fee_entry)).scalars().all()
        await s.execute(text("DELETE FROM ledger_lines WHERE entry_id = :e"), {"e": entry_id})
        await s.execute(
            text("DELETE FROM ledger_unsealed WHERE seq IN "
                 "(SELECT seq FROM ledger_entries WHERE id = :e)"), {"e": entry_id},
        )  # fmt: skip
        await s.execute(text("DELETE FROM ledger_entries WHERE id = :e"), {"e": entry_id})
        await s.commit()
    async with app.state.db.session() as s:  # the fee reported late, booked by this regie
        invoice = await s.get(Invoice, p.invoice_id)
        payment = await s.get(Payment, p.id)
        assert invoice is not None and payment is not None
        assert await payment_fee_late(s, invoice, payment)
        await s.commit()
    async with app.state.db.session() as s:
        assert await keep_missing_psp_postings(s) == 1
        await s.commit()
    kept = sorted((k.kind, k.fee) for k in await _all(app, PspPosting))
    assert kept == [("payment_succeeded", 0), ("psp_fee", p.fee)]
