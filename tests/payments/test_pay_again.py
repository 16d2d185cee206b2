"""Pressing Pay again, on the simulator: the first card page is closed before a second
one opens, so two tabs cannot both pay; and the return address names its checkout."""

from __future__ import annotations

from sqlalchemy import select

from payments.models import Payment
from payments.providers.simulator.models import SimCheckout
from tests.conftest import Keys, create_invoice, pay, start_checkout, token_of

CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"}


async def test_pressing_pay_again_closes_the_first_card_page(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    first, first_page = await start_checkout(client, inv)
    second, second_page = await start_checkout(client, inv)  # another tab
    assert first != second
    async with app.state.db.session() as s:
        assert (await s.get(SimCheckout, first)).status == "canceled"
        assert (await s.get(SimCheckout, second)).status == "open"

    r = await client.post(first_page, data=CARD)  # closed: back to the page, which says so
    assert r.status_code == 303 and r.headers["location"] == first_page
    assert "Cette session de paiement est terminée" in (await client.get(first_page)).text
    r = await client.post(second_page, data=CARD)
    assert r.status_code == 303
    await app.state.applier.process_batch()

    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "paid"
    assert [p["status"] for p in doc["payments"]] == ["canceled", "succeeded"]
    async with app.state.db.session() as s:
        assert (
            len((await s.execute(select(Payment).where(Payment.status == "succeeded"))).all()) == 1
        )


async def test_the_return_address_names_the_checkout(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, apply=app)
    location = result.response.headers["location"]
    assert location == (
        f"http://testserver/pay/{token_of(inv)}/return"
        f"?payment={result.payment_id}&session={result.checkout_id}"
    )
    page = await client.get(location.removeprefix("http://testserver"))
    assert "Paiement accepté" in page.text
