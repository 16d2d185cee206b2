"""The citizen's pages through the ASGI app (the real browser test is in tests/browser)."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import select

from payments.models import StateChange
from tests.conftest import Keys, create_invoice, pay, start_checkout, token_of

NBSP = "\u00a0"


async def test_pay_page_shows_issuer_amount_and_a_pay_button_in_french_by_default(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.get(f"/pay/{token_of(inv)}")
    assert r.status_code == 200
    assert '<html lang="fr">' in r.text
    assert "Mairie – Urbanisme" in r.text
    assert f"25,00{NBSP}€" in r.text
    assert f"Payer 25,00{NBSP}€ par carte" in r.text
    assert inv["id"] not in r.text  # the link carries a token, the page never needs the id


async def test_pay_page_in_english_from_accept_language_and_from_the_switch(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.get(f"/pay/{token_of(inv)}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in r.text
    assert "Pay €25.00 by card" in r.text
    r = await client.get(f"/pay/{token_of(inv)}?lang=en", headers={"Accept-Language": "fr"})
    assert "Pay €25.00 by card" in r.text
    assert r.cookies.get("regie_lang") == "en"
    # the choice is kept a year, out of scripts' reach, and sent back on a top-level
    # navigation from another site (back from the PSP's card page)
    cookie = r.headers["set-cookie"]
    for attribute in ("HttpOnly", "Path=/", "SameSite=lax", f"Max-Age={365 * 86400}"):
        assert attribute in cookie.split("; "), cookie


async def test_wrong_token_is_a_404_page(client, app, keys: Keys) -> None:
    r = await client.get("/pay/not-a-real-token")
    assert r.status_code == 404
    assert "Lien de paiement introuvable" in r.text


async def test_a_wrong_link_says_what_to_do_in_the_citizens_language(
    client, app, keys: Keys
) -> None:
    # not only "not found": check the address, or ask the service that sent it
    r = await client.get("/pay/not-a-real-token", headers={"Accept-Language": "en"})
    assert r.status_code == 404
    assert "Check the address or contact the service that sent it." in r.text
    r = await client.get("/pay/not-a-real-token/return")
    assert r.status_code == 404
    assert "Vérifiez l'adresse ou contactez le service" in html.unescape(r.text)


async def test_the_return_page_waits_only_while_the_psp_has_not_said(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, card_page = await start_checkout(client, inv)
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    (pending,) = doc["payments"]
    # back on the return page before the card is typed: the PSP has nothing to say yet
    return_url = f"/pay/{token_of(inv)}/return?payment={pending['id']}"
    r = await client.get(return_url)
    assert r.status_code == 200
    assert 'http-equiv="refresh"' in r.text
    assert "Paiement en cours de confirmation" in r.text
    r = await client.post(
        card_page, data={"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"}
    )
    assert r.status_code == 303
    # the event has not been applied; the page asks the PSP (server-side) about the
    # payment's own checkout, never trusting the redirect
    r = await client.get(return_url)
    assert "Paiement accepté" in r.text
    assert "refresh" not in r.text
    assert "4242" in r.text
    # the audit trail says what settled it: the citizen's return, not a PSP event
    async with app.state.db.session() as s:
        rows = (
            await s.execute(select(StateChange).where(StateChange.invoice_id == inv["id"]))
        ).scalars()
        causes = {(c.object, c.to_status): c.cause for c in rows}
    assert causes[("payment", "succeeded")] == "citizen:return"
    assert causes[("invoice", "paid")] == "citizen:return"
    await app.state.applier.process_batch()  # the event then changes nothing
    assert "Paiement accepté" in (await client.get(return_url)).text


async def test_a_decline_the_psp_has_already_reported_goes_straight_to_try_again(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, "4000 0000 0000 0002")  # its event is not applied
    # even without the checkout's id in the address (an old link, a bookmark), the page
    # asks the PSP, which has declined the card: no "waiting for your bank"
    r = await client.get(f"/pay/{token_of(inv)}/return?payment={result.payment_id}")
    assert "Paiement refusé" in r.text
    assert "Votre banque a refusé la carte" in r.text
    assert "Paiement en cours de confirmation" not in r.text
    assert 'http-equiv="refresh"' not in r.text
    assert f'action="/pay/{token_of(inv)}/checkout' in r.text
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert [p["status"] for p in doc["payments"]] == ["failed"]
    assert doc["status"] == "open"


async def test_a_declined_card_is_explained_in_plain_words_and_can_be_retried(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, "4000 0000 0000 0002", apply=app)
    r = await client.get(
        result.response.headers["location"].removeprefix("http://testserver"),
        headers={"Accept-Language": "en"},
    )
    assert "Your bank declined the card. No money was taken." in r.text
    assert f'action="/pay/{token_of(inv)}/checkout' in r.text
    second = await pay(client, inv, "4242 4242 4242 4242", apply=app)
    assert second.payment_id != result.payment_id
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == "paid"
    assert [p["status"] for p in r.json()["payments"]] == ["failed", "succeeded"]


async def test_insufficient_funds_has_its_own_message(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, "4000 0000 0000 9995", apply=app)
    r = await client.get(result.response.headers["location"].removeprefix("http://testserver"))
    assert "insuffisant" in r.text


async def test_the_extra_confirmation_step(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, path = await start_checkout(client, inv)
    r = await client.post(
        path, data={"card_number": "4000 0000 0000 3220", "expiry": "12/39", "cvc": "123"}
    )
    assert r.status_code == 303  # to the step, a page of its own (reload, Back)
    r = await client.get(r.headers["location"])
    assert r.status_code == 200
    assert "Confirmez le paiement" in r.text
    r = await client.post(
        f"/_simulator/checkout/{checkout_id}/confirm", data={"decision": "approve"}
    )
    assert r.status_code == 303
    await app.state.applier.process_batch()
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == "paid"
    assert r.json()["payments"][0]["card"]["last4"] == "3220"


async def test_invalid_card_input_is_shown_again_and_nothing_is_charged(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    _, path = await start_checkout(client, inv)
    r = await client.post(
        path, data={"card_number": "5555 5555 5555 4444", "expiry": "12/39", "cvc": "123"}
    )
    assert r.status_code == 303  # to the card page, which says why (post/redirect/get)
    r = await client.get(r.headers["location"])
    assert "carte de test" in r.text
    assert "5555 5555 5555 4444" not in r.text and "5555555555554444" not in r.text  # never echoed
    r = await client.post(
        path, data={"card_number": "4242 4242 4242 4242", "expiry": "01/20", "cvc": "123"}
    )
    assert r.status_code == 303
    r = await client.get(r.headers["location"])
    assert "expiration" in r.text
    assert await app.state.applier.process_batch() == 0


async def test_a_paid_invoice_has_no_pay_button_and_cannot_start_a_checkout(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    r = await client.get(f"/pay/{token_of(inv)}")
    assert "déjà payée" in r.text
    assert not re.search(r'action="/pay/[^"]+/checkout', r.text)
    r = await client.post(f"/pay/{token_of(inv)}/checkout")
    assert r.status_code == 303
    assert "/_simulator/" not in r.headers["location"]


async def test_health_and_readiness(client, app) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    metrics = (await client.get("/metrics")).text
    assert "regie_http_requests_total" in metrics
    assert "regie_webhook_lag_seconds 0.000" in metrics  # nothing waiting
    assert "regie_ledger_unsealed_entries 0" in metrics


async def test_an_invoice_past_its_expiry_is_not_payable_even_before_the_sweep(
    client, app, keys: Keys
) -> None:
    import datetime as dt

    from sqlalchemy import update

    from payments.models import Invoice

    inv = await create_invoice(client, keys.urbanisme)
    async with app.state.db.session() as s:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        await s.execute(update(Invoice).where(Invoice.id == inv["id"]).values(expires_at=past))
        await s.commit()
    r = await client.get(f"/pay/{token_of(inv)}")
    assert "expiré" in r.text
    assert "/checkout" not in r.text
    r = await client.post(f"/pay/{token_of(inv)}/checkout")
    assert r.status_code == 303
    assert "/_simulator/" not in r.headers["location"]


async def _receipt_number(app, invoice_id: str) -> str:
    from sqlalchemy import select

    from receipts.models import Receipt

    async with app.state.db.session() as s:
        stmt = select(Receipt.number).where(
            Receipt.invoice_id == invoice_id, Receipt.kind == "receipt"
        )
        return str((await s.execute(stmt)).scalar_one())


async def test_the_success_page_shows_the_receipt_number_and_the_date(
    client, app, keys: Keys
) -> None:
    from regie.kit.web import format_date

    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, apply=app)
    number = await _receipt_number(app, inv["id"])
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    paid_at = dt.datetime.fromisoformat(doc["payments"][0]["succeeded_at"])
    back = result.response.headers["location"].removeprefix("http://testserver")

    text = html.unescape((await client.get(back)).text)
    assert "Paiement accepté" in text
    assert f"<dt>Numéro du reçu</dt><dd>{number}</dd>" in text
    assert f"<dt>Payé le</dt><dd>{format_date(paid_at, 'fr', 'Europe/Paris', True)}</dd>" in text

    text = html.unescape((await client.get(back + "&lang=en")).text)
    assert f"<dt>Receipt number</dt><dd>{number}</dd>" in text
    assert f"<dt>Paid on</dt><dd>{format_date(paid_at, 'en', 'Europe/Paris', True)}</dd>" in text


async def test_the_already_paid_page_links_the_receipt(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    token = token_of(inv)
    r = await client.get(f"/pay/{token}")
    assert "/receipt" not in r.text  # nothing paid, no receipt
    await pay(client, inv, apply=app)
    number = await _receipt_number(app, inv["id"])

    text = html.unescape((await client.get(f"/pay/{token}")).text)
    assert "Cette facture est déjà payée." in text
    assert f'href="/pay/{token}/receipt?lang=fr"' in text
    assert f'href="/pay/{token}/receipt.pdf"' in text
    assert number in text
    # the date paid, as the success page says it (the payment's success)
    from regie.kit.web import format_date

    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    paid_at = dt.datetime.fromisoformat(doc["payments"][0]["succeeded_at"])
    assert f"<dt>Payé le</dt><dd>{format_date(paid_at, 'fr', 'Europe/Paris', True)}</dd>" in text
    english = html.unescape((await client.get(f"/pay/{token}?lang=en")).text)
    assert f"<dt>Paid on</dt><dd>{format_date(paid_at, 'en', 'Europe/Paris', True)}</dd>" in english
    assert (await client.get(f"/pay/{token}/receipt?lang=fr")).status_code == 200

    text = html.unescape((await client.get(f"/pay/{token}?lang=en")).text)
    assert "This bill has already been paid." in text
    assert f'href="/pay/{token}/receipt?lang=en"' in text


async def test_a_partly_refunded_bills_pay_link_says_how_much_came_back(
    client, app, keys: Keys
) -> None:
    """After a partial refund the citizen's pay link said only "already paid", where the
    receipt page lists the refund: it now says how much was refunded, in both languages."""
    from tests.payments.test_simulator_payouts import refund

    inv = await create_invoice(client, keys.urbanisme)  # 12.34 EUR
    await pay(client, inv, apply=app)
    await refund(client, keys.urbanisme, inv["id"], 500)
    token = token_of(inv)
    fr = html.unescape((await client.get(f"/pay/{token}?lang=fr")).text)
    assert "Cette facture est payée\u00a0; un remboursement de 5,00\u00a0€ vous a été versé." in fr
    en = html.unescape((await client.get(f"/pay/{token}?lang=en")).text)
    assert "This bill is paid; €5.00 of it was refunded to you." in en


async def test_the_return_page_of_a_refunded_bill_says_so(client, app, keys: Keys) -> None:
    """The page the PSP sends the citizen back to stays in the browser's history: opened
    again after a refund, it said only "payment received … confirmed" where the pay link
    says the money came back."""
    from tests.payments.test_simulator_payouts import refund

    inv = await create_invoice(client, keys.urbanisme)  # 25.00 EUR
    result = await pay(client, inv, apply=app)
    back = result.response.headers["location"].removeprefix("http://testserver")
    assert "rembours" not in html.unescape((await client.get(back + "&lang=fr")).text)

    await refund(client, keys.urbanisme, inv["id"], 500)
    fr = html.unescape((await client.get(back + "&lang=fr")).text)
    assert "Cette facture est payée\u00a0; un remboursement de 5,00\u00a0€ vous a été versé." in fr
    await refund(client, keys.urbanisme, inv["id"], 2000)
    fr = html.unescape((await client.get(back + "&lang=fr")).text)
    assert "Cette facture a été remboursée." in fr
    en = html.unescape((await client.get(back + "&lang=en")).text)
    assert "This bill was refunded." in en
    assert f'href="/pay/{token_of(inv)}/receipt?lang=en"' in en  # its receipt lists the refunds
