"""The simulator's card page after its form is sent: every answer to the form is a redirect
(post/redirect/get), so the browser's Back or reload never sends the card form again; and a
card page whose payment is over (paid in another tab, closed by another press of Pay) says
what happened and where to go, instead of ending on "session over" alone."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from typing import Any

import httpx
import pytest

from payments.providers.simulator.cards import KEPT_MASK
from payments.providers.simulator.refused import LIFE, Refused, dump, load
from tests.conftest import Keys, create_invoice, start_checkout, token_of

GOOD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"}
SUMMARY = {"fr": "Il y a un problème", "en": "There is a problem"}
EXPIRY_ERROR = {
    "fr": "La date d'expiration n'est pas valide ou est passée.",
    "en": "The expiry date is not valid or has passed.",
}
SESSION_OVER = {
    "fr": "Cette session de paiement est terminée.",
    "en": "This payment session is over.",
}
PAID_HERE = {
    "fr": "Le paiement a été accepté : la facture est payée.",
    "en": "The payment was accepted: the bill is paid.",
}
SEE_PAYMENT = {"fr": "Voir le paiement et le reçu", "en": "See the payment and the receipt"}
NOTHING_TAKEN = {
    "fr": "Aucune somme n'a été prélevée sur cette page.",
    "en": "No money was taken on this page.",
}
BACK_TO_BILL = {"fr": "Revenir à votre facture", "en": "Back to your bill"}


def _cookie_payloads(client: httpx.AsyncClient) -> str:
    """Every cookie the client holds, its signed body decoded where it is one."""
    out = []
    for value in client.cookies.jar:
        body = (value.value or "").split(".")[0]
        try:
            out.append(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode())
        except (ValueError, UnicodeDecodeError):
            out.append(value.value or "")
    return "\n".join(out)


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_a_refused_card_form_answers_a_redirect_to_the_card_page(
    client: httpx.AsyncClient, app: Any, keys: Keys, lang: str
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, path = await start_checkout(client, inv)
    r = await client.post(f"{path}?lang={lang}", data={**GOOD, "expiry": "13/20", "cvc": "1"})
    assert r.status_code == 303, r.status_code
    assert r.headers["location"] == f"/_simulator/checkout/{checkout_id}?lang={lang}"
    for _ in range(2):  # shown, then reloaded: a plain GET, the same errors and typing
        page = await client.get(r.headers["location"])
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert f'<html lang="{lang}">' in text
        summary = re.search(r'<div class="error-summary"(.*?)</div>', text, re.S)
        assert summary and SUMMARY[lang] in summary.group(1)
        assert re.findall(r'<a href="#(\w+)">', summary.group(1)) == ["expiry", "cvc"]
        assert EXPIRY_ERROR[lang] in text
        assert re.search(r'<input id="expiry"[^>]* value="13/20"', text)
        kept = re.search(r'<input id="card_number"[^>]* value="([^"]*)"', text)
        assert kept and kept.group(1) == "•••• •••• •••• 4242"
        assert not re.search(r'<input id="cvc"[^>]* value=', text)
    # what is kept between the form and its page holds no card number nor code
    assert "4242424242424242" not in _cookie_payloads(client)
    assert "4242 4242 4242 4242" not in _cookie_payloads(client)
    # another checkout's card page does not show these errors
    other = await create_invoice(client, keys.urbanisme, reference="PC-2026-0002")
    _, other_path = await start_checkout(client, other)
    assert "error-summary" not in (await client.get(other_path)).text
    # the card, typed right this time, pays; the page then forgets the errors
    r = await client.post(path, data={**GOOD, "card_number": KEPT_MASK + "4242"})
    assert r.status_code == 303 and "/return?payment=" in r.headers["location"]
    assert "error-summary" not in (await client.get(path)).text


async def test_a_card_page_paid_in_another_tab_says_so_and_links_the_receipt(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, path = await start_checkout(client, inv)
    r = await client.post(path, data=GOOD)  # the first tab pays
    assert r.status_code == 303
    return_url = r.headers["location"]
    await app.state.applier.process_batch()
    for lang in ("fr", "en"):  # the second tab, on the same card page, sends its card
        r = await client.post(f"{path}?lang={lang}", data=GOOD)
        assert r.status_code == 303, r.status_code
        assert r.headers["location"] == f"/_simulator/checkout/{checkout_id}?lang={lang}"
        text = html.unescape((await client.get(r.headers["location"])).text)
        assert SESSION_OVER[lang] in text and PAID_HERE[lang] in text
        link = re.search(rf'<a class="button" href="([^"]+)">{SEE_PAYMENT[lang]}</a>', text)
        assert link, text
        assert html.unescape(link.group(1)) == return_url
        assert '<form method="post"' not in text
    success = html.unescape((await client.get(return_url)).text)
    assert f"/pay/{token_of(inv)}/receipt.pdf" in success
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "paid" and len(doc["payments"]) == 1


async def test_a_card_page_closed_by_another_press_of_pay_leads_back_to_the_bill(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    first_id, first = await start_checkout(client, inv)  # a tab opens the card page
    _, second = await start_checkout(client, inv)  # another tab presses Pay: the first closes
    assert (await client.post(second, data=GOOD)).status_code == 303  # and pays
    await app.state.applier.process_batch()
    r = await client.post(f"{first}?lang=fr", data=GOOD)  # the first tab sends its card
    assert r.status_code == 303, r.status_code
    assert r.headers["location"] == f"/_simulator/checkout/{first_id}?lang=fr"
    text = html.unescape((await client.get(r.headers["location"])).text)
    assert SESSION_OVER["fr"] in text and NOTHING_TAKEN["fr"] in text
    link = re.search(rf'<a class="button" href="([^"]+)">{BACK_TO_BILL["fr"]}</a>', text)
    assert link, text
    bill = html.unescape((await client.get(html.unescape(link.group(1)))).text)
    assert "Cette facture est déjà payée." in bill
    assert f"/pay/{token_of(inv)}/receipt.pdf" in bill
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert (
        doc["status"] == "paid" and [p["status"] for p in doc["payments"]].count("succeeded") == 1
    )


async def test_the_confirmation_step_answered_in_another_tab_says_the_bill_is_paid(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, path = await start_checkout(client, inv)
    r = await client.post(path, data={**GOOD, "card_number": "4000 0000 0000 3220"})
    assert r.status_code == 303  # the bank's step, shown in two tabs
    confirm = f"/_simulator/checkout/{checkout_id}/confirm?lang=en"
    assert (await client.post(confirm, data={"decision": "approve"})).status_code == 303
    r = await client.post(confirm, data={"decision": "approve"})  # the other tab
    assert r.status_code == 303, r.status_code
    assert r.headers["location"] == f"/_simulator/checkout/{checkout_id}?lang=en"
    text = html.unescape((await client.get(r.headers["location"])).text)
    assert SESSION_OVER["en"] in text and PAID_HERE["en"] in text


def test_what_travels_to_the_card_page_is_its_own_recent_and_unaltered() -> None:
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    form = Refused(("invalid_expiry",), number=KEPT_MASK + "4242", expiry="13/20")
    token = dump(form, "cs_sim_A", "whsec_test_a", now)
    assert load(token, "cs_sim_A", "whsec_test_a", now + dt.timedelta(minutes=1)) == form
    assert load(token, "cs_sim_B", "whsec_test_a", now) is None  # another card page's
    assert load(token, "cs_sim_A", "whsec_test_b", now) is None  # signed with another secret
    assert load(token, "cs_sim_A", "whsec_test_a", now + LIFE + dt.timedelta(seconds=1)) is None
    assert load(token[:-2], "cs_sim_A", "whsec_test_a", now) is None  # altered
    assert load(None, "cs_sim_A", "whsec_test_a", now) is None
    full = Refused(("invalid_expiry",), number="4242 4242 4242 4242", expiry="13/20")
    assert load(dump(full, "cs_sim_A", "k", now), "cs_sim_A", "k", now) == Refused(
        ("invalid_expiry",), expiry="13/20"
    )  # only a kept number (its last four digits) is ever written
