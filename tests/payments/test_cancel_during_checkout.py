"""The service cancels an invoice while a citizen's Pay is opening its checkout at the PSP.

The cancel closes the invoice's pending payments, but this one has no checkout id yet, so
there is nothing to close at the PSP then. When the PSP answers, the citizen must not be
sent to a card page of a canceled invoice, and the checkout must be closed (as when the
invoice was paid meanwhile): otherwise the citizen pays a canceled invoice (an
overpayment, refunded days later)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from payments.models import Payment
from payments.providers.simulator.models import SimCheckout
from tests.conftest import Keys, create_invoice, token_of
from tests.payments.test_duplicate_payment import CARD, run_worker_drains


async def test_a_checkout_opened_while_the_invoice_was_canceled_is_not_shown_and_is_closed(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    sim = app.state.payments.provider
    real = sim.create_checkout
    opened: list[Any] = []

    async def the_service_cancels_meanwhile(*args: Any) -> Any:
        r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
        assert r.status_code == 200, r.text
        opened.append(await real(*args))
        return opened[-1]

    sim.create_checkout = the_service_cancels_meanwhile
    try:
        r = await client.post(f"/pay/{token_of(inv)}/checkout")
    finally:
        del sim.create_checkout
    (session,) = opened
    # not sent to the card page: the pay page says the invoice is canceled
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/pay/{token_of(inv)}?lang=fr"
    assert "Cette facture a été annulée" in (await client.get(r.headers["location"])).text
    await run_worker_drains(app)
    async with app.state.db.session() as s:
        checkout = await s.get(SimCheckout, session.id)
        assert checkout is not None and checkout.status == "canceled"
        (payment,) = (await s.execute(select(Payment))).scalars().all()
    assert payment.status == "canceled"
    # the card page, had the citizen reached it, takes no card
    card = await client.post(session.url.removeprefix("http://testserver"), data=CARD)
    got = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert got.json()["status"] == "canceled" and got.json()["amount_paid"] == 0, card.text
