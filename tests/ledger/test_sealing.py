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
