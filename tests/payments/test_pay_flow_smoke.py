from __future__ import annotations

from tests.conftest import Keys, create_invoice, pay


async def test_citizen_pays_and_invoice_becomes_paid_from_the_signed_event(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    assert inv["status"] == "open"
    result = await pay(client, inv)
    assert result.response.status_code == 303
    # the redirect alone changes nothing: the event is in the inbox, not applied yet
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == "open"
    assert await app.state.applier.process_batch() == 1
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    body = r.json()
    assert body["status"] == "paid"
    assert body["amount_paid"] == 2500
    (payment,) = body["payments"]
    assert payment["id"] == result.payment_id
    assert payment["provider"] == "simulator"
    assert payment["card"] == {"brand": "visa", "last4": "4242"}
    assert payment["fee"] == (2500 * 15 + 500) // 1000 + 25
