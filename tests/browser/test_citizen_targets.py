"""Every citizen page's targets are at least 24 × 24 CSS px (WCAG 2.2, 2.5.8), on a phone
(360 and 390 px) and a desktop (1280 px), in French and English, and axe-core finds
nothing with its WCAG 2.2 rules (target-size, off by default, is turned on).

A link inside a sentence is excepted (WCAG's "inline" exception); a link standing on its
own (a line, a list item, a table cell, a value of a list of terms) is not. axe-core's own
target-size check also accepts an undersized target that has room around it (the
"spacing" exception), so the boxes are measured here as well: an inline link's box is only
its text's height, 19 px at 16 px text.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import WCAG22, DemoServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

MIN = 24
SETTLE_MS = 20_000
CARD_PAGE = re.compile(r"/_simulator/checkout/cs_sim_\w+")
_axe = Axe()  # the bundled axe-core (4.12: its wcag22aa tag has target-size)

# every visible target, unless it is a link inside a sentence: a parent with text of its own
SMALL_TARGETS = """(min) => {
  const out = [];
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary')) {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility === 'hidden') continue;
    if (box.right < 0 || box.bottom < 0) continue;  // the skip link, until it has the focus
    if (el.tagName === 'A' && style.display === 'inline') {
      const own = el.textContent.trim();
      const around = el.parentElement.textContent.replace(own, '').replace(/[\\s()]/g, '');
      if (around.length > 0) continue;  // in a sentence
    }
    if (box.width < min || box.height < min) {
      out.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.value || '').trim()}" `
               + `${Math.round(box.width * 10) / 10}×${Math.round(box.height * 10) / 10}`);
    }
  }
  return out;
}"""

TEXTS: dict[str, dict[str, Any]] = {
    "fr": {
        "pay": "Payer 25,00\u00a0€ par carte",
        "card": ("Numéro de carte", "Date d'expiration", "Code de sécurité"),
        "submit": "Payer 25,00\u00a0€",
        "confirm": "Confirmer",
        "success": "Paiement accepté",
        "receipt": "Voir le reçu dans le navigateur",
        "verify": "Vérifier ce reçu",
    },
    "en": {
        "pay": "Pay €25.00 by card",
        "card": ("Card number", "Expiry date", "Security code"),
        "submit": "Pay €25.00",
        "confirm": "Confirm",
        "success": "Payment received",
        "receipt": "View the receipt in the browser",
        "verify": "Check this receipt",
    },
}


def _ref(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Pages:
    """Walks the citizen's pages; ``look`` measures and checks the one shown."""

    def __init__(self, page: Page, where: str) -> None:
        self.page, self.where = page, where
        self.problems: list[str] = []

    def look(self, what: str) -> None:
        page = self.page
        for target in page.evaluate(SMALL_TARGETS, MIN):
            self.problems.append(f"{self.where}, {what}: {target}")
        results = _axe.run(page, options=WCAG22)
        for v in results.response["violations"]:
            nodes = ", ".join(str(n["target"]) for n in v["nodes"])
            self.problems.append(f"{self.where}, {what}: axe {v['id']} at {nodes}")


def _fill(page: Page, texts: dict[str, Any], number: str, expiry: str, cvc: str) -> None:
    number_label, expiry_label, cvc_label = texts["card"]
    page.get_by_label(number_label).fill(number)
    page.get_by_label(expiry_label).fill(expiry)
    page.get_by_label(cvc_label).fill(cvc)
    page.get_by_role("button", name=texts["submit"], exact=True).click()


def _refund(demo_server: DemoServer, invoice_id: str) -> None:
    with demo_server.api() as api:
        r = api.post(
            f"/v1/invoices/{invoice_id}/refunds",
            headers={"Idempotency-Key": _ref("targets-refund")},
            json={
                "amount": 1000,
                "reason": "dossier incomplet",
                "expected_refundable_amount": 2500,
            },
        )
    assert r.status_code in (201, 202), r.text


def _cancel(demo_server: DemoServer, invoice_id: str) -> None:
    with demo_server.api() as api:
        r = api.post(
            f"/v1/invoices/{invoice_id}/cancel", headers={"Idempotency-Key": _ref("targets-cancel")}
        )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("width", "lang"), [(360, "fr"), (390, "en"), (1280, "fr"), (1280, "en")])
def test_every_target_of_the_citizen_pages_is_24_px_at_least(
    make_page: Callable[..., Page], demo_server: DemoServer, width: int, lang: str
) -> None:
    texts = TEXTS[lang]
    page = make_page(
        viewport={"width": width, "height": 800}, locale="fr-FR" if lang == "fr" else "en-GB"
    )
    pages = Pages(page, f"{width} px, {lang}")
    inv = demo_server.create_invoice(_ref("TARGETS"))

    page.goto(inv["payment_url"])
    pages.look("pay page")
    page.get_by_role("button", name=texts["pay"]).click()
    expect(page).to_have_url(CARD_PAGE)
    card_page = page.url
    pages.look("card page")
    _fill(page, texts, "4242 4242 4242 4242", "13/20", "1")  # every error at once, but one
    expect(page.locator(".error-summary li")).to_have_count(2)
    pages.look("card page with errors")
    _fill(page, texts, "4000 0000 0000 3220", "12/34", "123")
    page.get_by_role("button", name=texts["confirm"], exact=True).click()
    expect(page.get_by_role("heading", level=1, name=texts["success"])).to_be_visible(
        timeout=SETTLE_MS
    )
    pages.look("success page")
    page.goto(card_page)  # Back to the card page: its payment is over
    pages.look("card page of a paid bill")
    page.goto(inv["payment_url"])
    pages.look("pay page of a paid bill")

    _refund(demo_server, inv["id"])
    page.get_by_role("link", name=texts["receipt"]).click()
    expect(page.locator("table.lines.stack")).to_be_visible()  # its credit note
    pages.look("receipt page")
    page.get_by_role("link", name=texts["verify"]).click()
    expect(page).to_have_url(re.compile(r"/receipts/verify/"))
    pages.look("receipt verification page")

    canceled = demo_server.create_invoice(_ref("TARGETS-CANCELED"))
    _cancel(demo_server, canceled["id"])
    page.goto(canceled["payment_url"])
    expect(page.locator("section.contact a[href^='mailto:']")).to_be_visible()
    pages.look("pay page of a canceled bill (how to reach the service)")

    page.goto(f"{demo_server.base_url}/")
    pages.look("site root")

    assert not pages.problems, "targets under 24 × 24 px:\n" + "\n".join(pages.problems)
