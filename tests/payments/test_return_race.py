"""The return page and the worker may apply the same PSP truth at the same moment (the
citizen comes back from the PSP's page as its event arrives): what each applies is read
under the lock, so the second finds the payment settled and does nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from payments import repository as repo
from payments.models import Refund, StateChange
from tests.conftest import Keys, create_invoice, pay, start_checkout


@pytest.mark.postgres
async def test_a_locked_read_sees_what_another_transaction_committed(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await start_checkout(client, inv)
    async with app.state.db.session() as s:
        (payment_id,) = [p.id for p in (await repo.payments_of(s, [inv["id"]]))[inv["id"]]]
    async with app.state.db.session() as first:
        seen = await repo.get_payment(first, payment_id)  # an unlocked look first
        assert seen is not None and seen.check_count == 0
        async with app.state.db.session() as other:  # meanwhile, another worker commits
            theirs = await repo.get_payment(other, payment_id, lock=True)
            assert theirs is not None
            theirs.check_count = 7
            await other.commit()
        locked = await repo.get_payment(first, payment_id, lock=True)
        assert locked is seen and locked.check_count == 7  # not the earlier read's 0


async def test_the_return_page_after_the_event_changes_nothing(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, apply=app)  # the event first
    page = await client.get(result.response.headers["location"].removeprefix("http://testserver"))
    assert "Paiement accepté" in page.text
    async with app.state.db.session() as s:
        changes = (
            await s.execute(select(StateChange).where(StateChange.to_status == "succeeded"))
        ).all()
        assert len(changes) == 1
        assert (await s.execute(select(Refund))).all() == []
