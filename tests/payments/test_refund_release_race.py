"""A dispute releases an overpayment's automatic refund while the sweeper is asking the
PSP for it (PostgreSQL: the worker's transaction and the sweeper's interleave).

The sweeper reads the reservation (not yet asked of the PSP), asks the PSP, which makes
the refund; meanwhile a worker applies the payer's chargeback of the same duplicate, finds
the reservation still without the PSP's id and releases it ("not needed"). The PSP did pay
the refund all the same: its answer, in the sweeper's hands, must be booked (the payer got
the money twice: a loss), not dropped because the reservation is no longer pending."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payments.models import Refund
from tests.conftest import Keys
from tests.payments.test_disputes import apply_all, balances, event, over_dispute, paid_twice

pytestmark = pytest.mark.postgres


async def test_a_refund_the_psp_made_while_a_dispute_released_it_is_booked(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc, over = await paid_twice(client, app, keys)
    sim = app.state.payments.provider
    real_refund = sim.refund
    body = {"dispute_id": "dp_in_flight", "provider_payment_id": over["provider_payment_id"]}

    async def refund_while_the_payer_charges_back(*args: Any, **kwargs: Any) -> Any:
        made = await real_refund(*args, **kwargs)  # the PSP pays the refund...
        # ...and before its answer is applied, a worker applies the chargeback
        sim.set_dispute(over_dispute(over, "dp_in_flight"))
        await apply_all(app, [event("dispute.funds_withdrawn", **body)])
        return made

    monkeypatch.setattr(sim, "refund", refund_while_the_payer_charges_back)
    await app.state.payments.refunds.retry_due()
    monkeypatch.undo()

    (made,) = await sim.list_refunds(over["provider_payment_id"])
    async with app.state.db.session() as s:
        rows = (await s.execute(select(Refund))).scalars().all()
    booked = [r for r in rows if r.provider_refund_id == made.id]
    assert [(r.status, r.amount) for r in booked] == [("succeeded", 2500)], [
        (r.status, r.provider_refund_id, r.failure_reason) for r in rows
    ]
    bal = await balances(app)
    # the chargeback settled the debt; the refund paid on top of it is a loss
    assert (bal[("liabilities:overpayments", "EUR")], bal[("expenses:disputes", "EUR")]) == (
        0,
        2500,
    )
    got = await client.get(f"/v1/invoices/{doc['id']}", headers=Keys.h(keys.urbanisme))
    assert (got.json()["status"], got.json()["amount_refunded"]) == ("paid", 0)
