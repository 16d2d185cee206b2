"""The citizen's flow in a real Chromium against a real ``regie demo`` server.

Sync Playwright only (see conftest.py). Every wait is bounded: the default action and
navigation timeout is 15 s, and the return page, which updates itself while the demo's
in-process worker applies the PSP's event (a background check with JavaScript, a 2 s meta
refresh without), gets ``SETTLE_MS``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DemoServer, assert_accessible

NBSP = "\u00a0"  # Babel: "25,00\u00a0€" in French
FR_AMOUNT = f"25,00{NBSP}€"
EN_AMOUNT = "€25.00"
ISSUER = "Mairie de Villeneuve – Urbanisme"
SETTLE_MS = 20_000
CARD_PAGE = re.compile(r"/_simulator/checkout/(cs_sim_\w+)")
RETURN_PAGE = re.compile(r"/pay/[^/]+/return\?payment=pay_\w+")

pytestmark = [
    pytest.mark.browser,
    # pytest-playwright's own ``base_url`` fixture trips a pytest 9 deprecation warning
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]


def _ref(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def fill_card(page: Page, number: str, *, lang: str = "fr") -> None:
    labels = {
        "fr": ("Numéro de carte", "Date d'expiration", "Code de sécurité"),
        "en": ("Card number", "Expiry date", "Security code"),
    }[lang]
    page.get_by_label(labels[0]).fill(number)
    page.get_by_label(labels[1]).fill("12/34")
    page.get_by_label(labels[2]).fill("123")


def submit_card(page: Page, number: str, *, lang: str = "fr") -> str:
    """Type a card on the simulator's page and pay; returns the return page's URL."""
    fill_card(page, number, lang=lang)
    amount, label = (FR_AMOUNT, "Payer {}") if lang == "fr" else (EN_AMOUNT, "Pay {}")
    with page.expect_request(RETURN_PAGE) as request:
        page.get_by_role("button", name=label.format(amount), exact=True).click()
    return request.value.url


def open_card_page(page: Page) -> str:
    """On the pay page: press the pay button, land on the simulator's card page."""
    page.get_by_role("button", name=f"Payer {FR_AMOUNT} par carte").click()
    return on_card_page(page)


def on_card_page(page: Page, amount: str = FR_AMOUNT) -> str:
    """The simulator's card page for this invoice; returns the checkout id."""
    expect(page).to_have_url(CARD_PAGE)
    m = CARD_PAGE.search(page.url)
    assert m
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Paiement à {ISSUER}")
    expect(page.locator(".amount")).to_have_text(amount)
    return m.group(1)


# payments/pages.py return_page reads the invoice, then (separately) the payment. When the
# worker commits in between, it sees an open invoice with a succeeded payment and sends the
# citizen who has just paid back to the pay page (which then says "already paid"). The
# tests then go back to the return page, finish, and report the run as xfailed.
KNOWN_RACE = (
    "known race in payments/pages.py return_page: the worker committed between its two "
    "reads and the citizen was sent back to the pay page instead of the success page"
)


OUTCOME_HEADINGS = {  # (the success page, the pay page of a paid bill)
    "fr": ("Paiement accepté", "Votre facture"),
    "en": ("Payment received", "Your bill"),
}


def reach_success(page: Page, return_url: str, *, lang: str = "fr") -> bool:
    """Wait (bounded) for the success page; True when the known race bounced us first."""
    title, bill = OUTCOME_HEADINGS[lang]
    success = page.get_by_role("heading", level=1, name=title)
    bounced = page.get_by_role("heading", level=1, name=bill)
    expect(success.or_(bounced)).to_be_visible(timeout=SETTLE_MS)
    if success.is_visible():
        return False
    page.goto(return_url)
    expect(success).to_be_visible(timeout=SETTLE_MS)
    return True


def expect_success(page: Page, return_url: str, last4: str = "4242") -> bool:
    bounced = reach_success(page, return_url)
    expect(page).to_have_url(RETURN_PAGE)
    main = page.locator("main")
    expect(main).to_contain_text(f"Votre paiement de {FR_AMOUNT} à {ISSUER} est confirmé.")
    expect(main).to_contain_text(f"Carte VISA se terminant par {last4}")
    expect(page.get_by_role("button")).to_have_count(0)  # nothing left to pay
    return bounced


def xfail_if_bounced(bounced: bool) -> None:
    # the return page once read the invoice and the payment separately and could bounce a
    # citizen who had just paid to the pay page; fixed, so this must never happen again
    assert not bounced, KNOWN_RACE


# ------------------------------------------------------------------------- tests
def test_citizen_pays_by_card_on_a_phone(page: Page, demo_server: DemoServer) -> None:
    inv = demo_server.create_invoice(_ref("BR-OK"))
    assert inv["status"] == "open"

    response = page.goto(inv["payment_url"])
    assert response is not None and response.status == 200
    assert page.viewport_size == {"width": 360, "height": 740}
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payer votre facture")
    expect(page.locator(".amount")).to_have_text(FR_AMOUNT)
    expect(page.get_by_text(f"{ISSUER} vous demande de régler")).to_be_visible()
    expect(page.locator("main")).to_contain_text(inv["number"])
    # nothing overflows sideways on a 360 px phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert_accessible(page, "pay page")

    open_card_page(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert_accessible(page, "simulator card page")

    return_url = submit_card(page, "4242 4242 4242 4242")
    bounced = expect_success(page, return_url)
    assert_accessible(page, "success page")

    body = demo_server.get_invoice(inv["id"])
    assert body["status"] == "paid"
    assert body["amount_paid"] == 2500
    assert [(p["status"], p["card"]) for p in body["payments"]] == [
        ("succeeded", {"brand": "visa", "last4": "4242"})
    ]

    # the link now says the bill is paid, and offers no second payment
    page.goto(inv["payment_url"])
    expect(page.get_by_role("status")).to_have_text("Cette facture est déjà payée.")
    expect(page.get_by_role("button")).to_have_count(0)
    xfail_if_bounced(bounced)


def test_declined_card_then_try_again(page: Page, demo_server: DemoServer) -> None:
    inv = demo_server.create_invoice(_ref("BR-DECLINE"))
    page.goto(inv["payment_url"])
    first = open_card_page(page)

    submit_card(page, "4000 0000 0000 0002")
    expect(page).to_have_url(RETURN_PAGE)
    expect(page.get_by_role("heading", name="Paiement refusé")).to_be_visible(timeout=SETTLE_MS)
    expect(page.get_by_role("alert")).to_have_text(
        "Votre banque a refusé la carte. Aucune somme n'a été prélevée. "
        "Vous pouvez réessayer, avec une autre carte si besoin."
    )
    assert_accessible(page, "declined page")
    assert demo_server.get_invoice(inv["id"])["status"] == "open"

    page.get_by_role("button", name=f"Réessayer de payer {FR_AMOUNT}").click()
    second = on_card_page(page)
    assert second != first, "try again must open a fresh card page"
    bounced = expect_success(page, submit_card(page, "4242424242424242"))

    body = demo_server.get_invoice(inv["id"])
    assert body["status"] == "paid"
    assert sorted(p["status"] for p in body["payments"]) == ["failed", "succeeded"]
    xfail_if_bounced(bounced)


def test_english_from_accept_language(
    make_page: Callable[..., Page], demo_server: DemoServer
) -> None:
    inv = demo_server.create_invoice(_ref("BR-EN"))
    page = make_page(locale="en-GB")  # Chromium then sends Accept-Language: en-GB
    page.goto(inv["payment_url"])
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay your bill")
    expect(page.locator(".amount")).to_have_text(EN_AMOUNT)
    expect(page.get_by_text(f"{ISSUER} asks you to pay")).to_be_visible()
    assert_accessible(page, "English pay page")

    page.get_by_role("button", name=f"Pay {EN_AMOUNT} by card").click()
    expect(page).to_have_url(CARD_PAGE)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Payment to {ISSUER}")
    return_url = submit_card(page, "4242 4242 4242 4242", lang="en")
    bounced = reach_success(page, return_url, lang="en")
    expect(page.locator("main")).to_contain_text(
        f"Thank you. Your payment of {EN_AMOUNT} to {ISSUER} is confirmed."
    )
    expect(page.locator("main")).to_contain_text("VISA card ending 4242")
    xfail_if_bounced(bounced)


def test_language_switch_link(page: Page, demo_server: DemoServer) -> None:
    inv = demo_server.create_invoice(_ref("BR-SWITCH"))
    page.goto(inv["payment_url"])
    expect(page.locator(".amount")).to_have_text(FR_AMOUNT)

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay your bill")
    expect(page.locator(".amount")).to_have_text(EN_AMOUNT)

    # the choice sticks (cookie) without the query string, and switches back
    page.goto(inv["payment_url"])
    expect(page.locator(".amount")).to_have_text(EN_AMOUNT)
    page.get_by_role("link", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator(".amount")).to_have_text(FR_AMOUNT)


def _pending_return_url(demo_server: DemoServer, page: Page, inv: dict[str, Any]) -> str:
    """Press pay, then come back to the return page before the card is even typed."""
    page.goto(inv["payment_url"])
    open_card_page(page)
    (pending,) = demo_server.get_invoice(inv["id"])["payments"]
    assert pending["status"] == "pending"
    return f"{inv['payment_url']}/return?payment={pending['id']}"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_pending_page_updates_itself_once_the_payment_is_known(
    make_page: Callable[..., Page], demo_server: DemoServer, javascript: bool
) -> None:
    """The return page waits for the PSP's event; it updates by itself, with JavaScript
    (a background check, one reload) or without (meta refresh in <noscript>)."""
    inv = demo_server.create_invoice(_ref("BR-PENDING"))
    payer_tab = make_page()
    waiting_tab = make_page(java_script_enabled=javascript)
    return_url = _pending_return_url(demo_server, payer_tab, inv)

    waiting_tab.goto(return_url)
    heading = waiting_tab.get_by_role("heading", level=1)
    expect(heading).to_have_text("Paiement en cours de confirmation")
    expect(waiting_tab.locator("main")).to_contain_text(FR_AMOUNT)
    if javascript:
        # no timed reload for a screen reader to fight with (axe: meta-refresh)
        expect(waiting_tab.locator('meta[http-equiv="refresh"]')).to_have_count(0)
        assert_accessible(waiting_tab, "pending page")
    else:
        expect(waiting_tab.locator('meta[http-equiv="refresh"]')).to_have_attribute("content", "2")

    # the citizen pays in the other tab; the waiting tab follows without being touched
    bounced = expect_success(payer_tab, submit_card(payer_tab, "4242 4242 4242 4242"))
    bounced |= reach_success(waiting_tab, return_url)
    xfail_if_bounced(bounced)


def test_card_errors_are_said_at_the_field_then_the_bank_asks_to_confirm(
    page: Page, demo_server: DemoServer
) -> None:
    inv = demo_server.create_invoice(_ref("BR-ERR"))
    page.goto(inv["payment_url"])
    open_card_page(page)
    fill_card(page, "1234 5678 9012 3456")
    page.get_by_role("button", name=f"Payer {FR_AMOUNT}", exact=True).click()

    number = page.get_by_label("Numéro de carte")
    expect(page).to_have_title(re.compile(r"^Erreur"))
    expect(number).to_have_attribute("aria-invalid", "true")
    summary = page.get_by_role("alert").filter(has_text="Il y a un problème")
    expect(summary).to_be_focused()  # the error summary first, then its link to the field
    summary.get_by_role("link", name="Le numéro de carte n'est pas valide.").click()
    expect(number).to_be_focused()
    expect(number).to_have_accessible_description(
        re.compile("16 chiffres.*Le numéro de carte n'est pas valide")
    )
    expect(number).to_have_value("")  # a card number is never sent back
    assert_accessible(page, "card page with an error")

    fill_card(page, "4000 0000 0000 3220")  # the bank asks for a confirmation
    page.get_by_role("button", name=f"Payer {FR_AMOUNT}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmez le paiement")
    assert_accessible(page, "confirmation step")
    with page.expect_request(RETURN_PAGE) as request:
        page.get_by_role("button", name="Confirmer").click()
    bounced = expect_success(page, request.value.url, last4="3220")
    assert demo_server.get_invoice(inv["id"])["status"] == "paid"
    xfail_if_bounced(bounced)
    # Back after paying: the card page, a plain GET, says the session is over (never the
    # browser's "confirm form resubmission" error, which would send the card again)
    page.go_back()
    expect(page).to_have_url(CARD_PAGE)
    expect(page.locator("main")).to_contain_text("Cette session de paiement est terminée.")
    expect(page.get_by_label("Numéro de carte")).to_have_count(0)


def test_works_without_javascript(make_page: Callable[..., Page], demo_server: DemoServer) -> None:
    inv = demo_server.create_invoice(_ref("BR-NOJS"))
    page = make_page(java_script_enabled=False)
    page.goto(inv["payment_url"])
    open_card_page(page)
    bounced = expect_success(page, submit_card(page, "4242 4242 4242 4242"))  # meta refresh
    assert demo_server.get_invoice(inv["id"])["status"] == "paid"
    xfail_if_bounced(bounced)


def test_unknown_link_is_a_plain_404(page: Page, demo_server: DemoServer) -> None:
    response = page.goto(f"{demo_server.base_url}/pay/not-a-real-token")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Lien de paiement introuvable")
    expect(page.locator("main")).to_contain_text("Vérifiez l'adresse")
    assert_accessible(page, "404 page")
