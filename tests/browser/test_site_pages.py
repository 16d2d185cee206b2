"""Issue 11's pages in a real Chromium against ``regie demo``: the site root, the
simulator's card page (expiry formats, values kept, error summary, language links), the
"already paid" page and the success page. Each is checked with axe-core, at 360 px (the
default context) and, where layout matters, at 1280 px."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DemoServer, assert_accessible

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]


def _ref(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _fits(page: Page) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_site_root_is_a_page_with_a_favicon(
    make_page: Callable[..., Page], demo_server: DemoServer
) -> None:
    for width in (360, 1280):
        page = make_page(viewport={"width": width, "height": 740})
        response = page.goto(f"{demo_server.base_url}/")
        assert response is not None and response.status == 200
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.get_by_role("heading", level=1)).to_contain_text("services publics")
        expect(
            page.get_by_role("link", name=re.compile("Documentation de l'API"))
        ).to_have_attribute("href", "/docs")
        _fits(page)
        assert_accessible(page, f"site root at {width} px")
    icon = page.request.get(f"{demo_server.base_url}/favicon.ico")
    assert icon.status == 200 and icon.body()[:4] == b"\x00\x00\x01\x00"

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("public services")
    assert_accessible(page, "English site root")


def _card_page(page: Page, demo_server: DemoServer, prefix: str) -> dict[str, object]:
    inv = demo_server.create_invoice(_ref(prefix))
    page.goto(str(inv["payment_url"]))
    page.get_by_role("button", name=re.compile("^Payer .* par carte$")).click()
    expect(page).to_have_url(re.compile(r"/_simulator/checkout/cs_sim_\w+"))
    return inv


def _fill(page: Page, number: str, expiry: str, cvc: str) -> None:
    page.get_by_label("Numéro de carte").fill(number)
    page.get_by_label("Date d'expiration").fill(expiry)
    page.get_by_label("Code de sécurité").fill(cvc)
    page.get_by_role("button", name=re.compile(r"^Payer \d")).click()


def test_the_card_page_says_every_error_at_once_and_keeps_what_was_typed(
    make_page: Callable[..., Page], demo_server: DemoServer
) -> None:
    for width in (360, 1280):
        page = make_page(viewport={"width": width, "height": 740})
        inv = _card_page(page, demo_server, "BR-SUMMARY")
        _fill(page, "4242 4242 4242 4242", "13/34", "12")

        summary = page.get_by_role("alert").filter(has_text="Il y a un problème")
        expect(summary).to_be_focused()
        links = summary.get_by_role("link")
        expect(links).to_have_text(
            [
                "La date d'expiration n'est pas valide ou est passée.",
                "Le code de sécurité a 3 ou 4 chiffres.",
            ]
        )
        expiry, cvc = page.get_by_label("Date d'expiration"), page.get_by_label("Code de sécurité")
        number = page.get_by_label("Numéro de carte")
        expect(expiry).to_have_value("13/34")  # kept
        expect(number).to_have_value("•••• •••• •••• 4242")  # the last four digits only
        expect(number).not_to_have_attribute("aria-invalid", "true")
        expect(cvc).to_have_accessible_description(re.compile("saisissez-le à nouveau"))
        _fits(page)
        assert_accessible(page, f"card page with two errors at {width} px")
        links.nth(1).click()
        expect(cvc).to_be_focused()

        # three problems at once, then the kept card pays with the expiry typed "1234"
        _fill(page, "1234", "1", "")
        expect(summary.get_by_role("link")).to_have_count(3)
        expect(page.get_by_label("Numéro de carte")).to_have_value("")  # never sent back
        assert_accessible(page, f"card page with three errors at {width} px")
        _fill(page, "4242 4242 4242 4242", "1", "123")
        expect(page.get_by_label("Numéro de carte")).to_have_value("•••• •••• •••• 4242")
        page.get_by_label("Date d'expiration").fill("1234")
        page.get_by_label("Code de sécurité").fill("123")
        page.get_by_role("button", name=re.compile(r"^Payer \d")).click()
        expect(page.get_by_role("heading", level=1, name="Paiement accepté")).to_be_visible(
            timeout=20_000
        )
        assert demo_server.get_invoice(str(inv["id"]))["status"] == "paid"


def test_each_way_of_typing_the_expiry(page: Page, demo_server: DemoServer) -> None:
    for expiry in ("12/34", "1234", "12 34", "12-34"):
        inv = _card_page(page, demo_server, "BR-EXPIRY")
        _fill(page, "4242 4242 4242 4242", expiry, "123")
        expect(page.get_by_role("heading", level=1, name="Paiement accepté")).to_be_visible(
            timeout=20_000
        )
        assert demo_server.get_invoice(str(inv["id"]))["status"] == "paid", expiry


def test_the_language_link_of_the_card_pages_after_a_post(
    page: Page, demo_server: DemoServer
) -> None:
    _card_page(page, demo_server, "BR-LANG")
    _fill(page, "4242 4242 4242 4242", "12/34", "1")  # an error page, answering a POST
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_label("Card number")).to_be_visible()

    page.get_by_label("Card number").fill("4000 0000 0000 3220")
    page.get_by_label("Expiry date").fill("12/34")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm the payment")
    page.get_by_role("link", name="Français").click()  # the step, in French
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmez le paiement")
    assert_accessible(page, "confirmation step after the language link")
    page.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_role("heading", level=1, name="Paiement accepté")).to_be_visible(
        timeout=20_000
    )


def test_the_success_page_and_the_paid_link_name_and_link_the_receipt(
    make_page: Callable[..., Page], demo_server: DemoServer
) -> None:
    page = make_page()
    inv = _card_page(page, demo_server, "BR-RECEIPT")
    _fill(page, "4242 4242 4242 4242", "12/34", "123")
    expect(page.get_by_role("heading", level=1, name="Paiement accepté")).to_be_visible(
        timeout=20_000
    )
    main = page.locator("main")
    expect(main).to_contain_text(re.compile(r"Numéro du reçu\s*\d{4}-\d{6}"))
    expect(main).to_contain_text(re.compile(r"Payé le\s*\d{1,2} \S+ \d{4} à \d{2}:\d{2}"))
    dd = main.locator("dt", has_text="Numéro du reçu").locator("xpath=following-sibling::dd")
    number = re.fullmatch(r"\d{4}-\d{6}", dd.inner_text().strip())
    assert number
    assert_accessible(page, "success page with its receipt")

    for width in (360, 1280):
        paid = make_page(viewport={"width": width, "height": 740})
        paid.goto(str(inv["payment_url"]))
        expect(paid.get_by_role("status")).to_have_text("Cette facture est déjà payée.")
        expect(paid.locator("main")).to_contain_text(number.group(0))
        _fits(paid)
        assert_accessible(paid, f"already paid page at {width} px")
    paid.get_by_role("link", name="Voir le reçu dans le navigateur").click()
    expect(paid.get_by_role("heading", level=1)).to_contain_text(number.group(0))


# the lines a piece of text takes on the page: 1 when it does not wrap
_LINES_OF_TEXT = """([el, text]) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const at = node.data.indexOf(text);
        if (at < 0) continue;
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + text.length);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    }
    return 0;
}"""


def _lines_of(page: Page, selector: str, text: str) -> int:
    return int(page.evaluate(_LINES_OF_TEXT, [page.locator(selector).element_handle(), text]))


def test_receipt_and_credit_note_numbers_stay_on_one_line_on_a_phone(
    make_page: Callable[..., Page], demo_server: DemoServer
) -> None:
    """A document number is read and copied whole: on a phone the receipt page's heading
    does not break it at a hyphen ("2026-" / "000010"), nor the refunds table its credit
    note ("AV-" / "2026-" / "000001")."""
    page = make_page()
    inv = _card_page(page, demo_server, "BR-NUMBERS")
    _fill(page, "4242 4242 4242 4242", "12/34", "123")
    expect(page.get_by_role("heading", level=1, name="Paiement accepté")).to_be_visible(
        timeout=20_000
    )
    dd = page.locator("main dt", has_text="Numéro du reçu").locator("xpath=following-sibling::dd")
    receipt = dd.inner_text().strip()
    assert re.fullmatch(r"\d{4}-\d{6}", receipt), receipt
    with demo_server.api() as api:
        r = api.post(
            f"/v1/invoices/{inv['id']}/refunds",
            headers={"Idempotency-Key": _ref("refund")},
            json={"amount": 1000, "reason": "dossier incomplet"},
        )
    assert r.status_code == 201, r.text
    credit_note = r.json()["credit_note"]["number"]

    for locale, width in [(loc, w) for loc in ("en-GB", "fr-FR") for w in (360, 390)]:
        phone = make_page(locale=locale, viewport={"width": width, "height": 844})
        phone.goto(f"{inv['payment_url']}/receipt")
        expect(phone.get_by_role("heading", level=1)).to_contain_text(receipt)
        expect(phone.get_by_role("link", name=re.compile(credit_note))).to_be_visible()
        _fits(phone)
        assert _lines_of(phone, "h1", receipt) == 1, f"{locale} {width}: the receipt's number wraps"
        assert _lines_of(phone, "main table:last-of-type", credit_note) == 1, (
            f"{locale} {width}: the credit note's number wraps"
        )
        assert_accessible(phone, f"receipt page with a refund ({locale}, {width} px)")
