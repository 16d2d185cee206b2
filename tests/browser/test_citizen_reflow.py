"""A long word a service writes (a URL in a line or in the bill's object, a refund's
reason) wraps on a phone: no citizen page scrolls sideways at 360 px (WCAG 1.4.10)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DemoServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

SETTLE_MS = 20_000
URL = "https://www.villeneuve.example/deliberations/2026/occupation_domaine_public_terrasses_tarifs"


def _fits(page: Page, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the {what} is {overflow}px wider than a 360px phone"


def test_long_words_wrap_on_a_phone(page: Page, demo_server: DemoServer) -> None:
    with demo_server.api() as c:
        r = c.post(
            "/v1/invoices",
            json={
                "currency": "EUR",
                "reference": f"REFLOW-{uuid.uuid4().hex[:10]}",
                "description": f"Terrasse, tarifs : {URL}",
                "payer": {"name": "Camille Martin"},
                "lines": [
                    {"description": f"Terrasse ({URL})", "quantity": 1, "unit_amount": 2000},
                    {"description": "Frais", "quantity": 1, "unit_amount": 500},
                ],
            },
        )
    assert r.status_code == 201, r.text
    inv = r.json()

    page.goto(inv["payment_url"])
    _fits(page, "pay page")
    page.get_by_role("button", name=re.compile("^Payer .* par carte$")).click()
    expect(page.get_by_label("Numéro de carte")).to_be_visible()
    _fits(page, "simulator's card page")
    page.get_by_label("Numéro de carte").fill("4242 4242 4242 4242")
    page.get_by_label("Date d'expiration").fill("12/34")
    page.get_by_label("Code de sécurité").fill("123")
    page.get_by_role("button", name=re.compile(r"^Payer \S+ €$")).click()
    expect(page.get_by_role("heading", level=1, name="Paiement accepté")).to_be_visible(
        timeout=SETTLE_MS
    )

    with demo_server.api() as c:
        r = c.post(
            f"/v1/invoices/{inv['id']}/refunds",
            json={"amount": 500, "reason": f"Frais offerts, voir {URL}"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert r.status_code == 201, r.text
    page.goto(inv["payment_url"] + "/receipt")
    expect(page.get_by_role("heading", level=2, name="Remboursements")).to_be_visible()
    _fits(page, "receipt page")
