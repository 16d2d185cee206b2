"""The simulator's card page in a real Chromium, with and without JavaScript: a refused
form is answered with a redirect (reloading the page sends no form again), and a card page
whose payment went through in another tab says so and leads to the receipt."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import DemoServer, assert_accessible

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

SETTLE_MS = 20_000
PAY = "Payer 25,00\u00a0€"


def _card_page(page: Page, demo_server: DemoServer, prefix: str) -> dict[str, str]:
    inv = demo_server.create_invoice(f"{prefix}-{uuid.uuid4().hex[:10]}")
    page.goto(inv["payment_url"])
    page.get_by_role("button", name=f"{PAY} par carte").click()
    expect(page).to_have_url(re.compile(r"/_simulator/checkout/cs_sim_\w+"))
    return inv


def _send(page: Page, number: str, expiry: str = "12/34", cvc: str = "123") -> None:
    page.get_by_label("Numéro de carte").fill(number)
    page.get_by_label("Date d'expiration").fill(expiry)
    page.get_by_label("Code de sécurité").fill(cvc)
    page.get_by_role("button", name=PAY, exact=True).click()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_reloading_a_refused_card_form_sends_nothing_again(
    make_page: Callable[..., Page], demo_server: DemoServer, javascript: bool
) -> None:
    page = make_page(java_script_enabled=javascript)
    _card_page(page, demo_server, "BR-PRG")
    _send(page, "4242 4242 4242 4242", expiry="13/20")
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("La date d'expiration n'est pas valide ou est passée.")
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.reload()
    expect(summary).to_contain_text("La date d'expiration n'est pas valide ou est passée.")
    expect(page.get_by_label("Date d'expiration")).to_have_value("13/20")
    assert posts == [], "reloading the page sent the card form again"
    if javascript:
        assert_accessible(page, "card page with an error, reloaded")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_card_page_paid_in_another_tab_leads_to_the_receipt(
    make_page: Callable[..., Page], demo_server: DemoServer, javascript: bool
) -> None:
    first = make_page(java_script_enabled=javascript)
    inv = _card_page(first, demo_server, "BR-TABS")
    second = make_page(java_script_enabled=javascript)
    second.goto(first.url)  # the same card page, in another tab
    _send(first, "4242 4242 4242 4242")
    expect(first.get_by_role("heading", level=1, name="Paiement accepté")).to_be_visible(
        timeout=SETTLE_MS
    )

    _send(second, "4242 4242 4242 4242")
    alert = second.get_by_role("alert")
    expect(alert).to_contain_text("Cette session de paiement est terminée.")
    expect(alert).to_contain_text("Le paiement a été accepté : la facture est payée.")
    expect(second.get_by_label("Numéro de carte")).to_have_count(0)
    if javascript:
        assert_accessible(second, "card page of a bill paid in another tab")
    second.get_by_role("link", name="Voir le paiement et le reçu").click()
    expect(second.get_by_role("heading", level=1, name="Paiement accepté")).to_be_visible()
    expect(second.get_by_role("link", name="Télécharger le reçu (PDF)")).to_be_visible()
    assert len(demo_server.get_invoice(inv["id"])["payments"]) == 1
