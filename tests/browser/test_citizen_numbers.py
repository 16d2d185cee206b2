"""A number on the receipt and verification pages is never broken across two lines: a
SIRET or SIREN split after its sixth digit reads as two numbers (at 1280 px, the issuer's
line fills the column just there)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DemoServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

SETTLE_MS = 20_000

# the lines a text takes on the page: the distinct tops of the boxes of its characters
LINES_OF = """(text) => {
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  const flat = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) flat.push([node, i, node.data[i]]);
  }
  const joined = flat.map((x) => x[2]).join('');
  const at = joined.indexOf(text);
  if (at < 0) return -1;
  const tops = new Set();
  for (let k = at; k < at + text.length; k++) {
    const [node, i, ch] = flat[k];
    if (!ch.trim()) continue;  // a space may end a line: only the characters count
    const range = document.createRange();
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    for (const box of range.getClientRects()) tops.add(Math.round(box.top));
  }
  return tops.size;
}"""


@pytest.mark.parametrize("width", [360, 390, 1280])
def test_the_issuers_siret_and_siren_stay_on_one_line(
    make_page: Callable[..., Page], demo_server: DemoServer, width: int
) -> None:
    inv = demo_server.create_invoice(f"NUMBERS-{uuid.uuid4().hex[:10]}")
    page = make_page(viewport={"width": width, "height": 800})
    page.goto(inv["payment_url"])
    page.get_by_role("button", name=re.compile("^Payer .* par carte$")).click()
    page.get_by_label("Numéro de carte").fill("4242 4242 4242 4242")
    page.get_by_label("Date d'expiration").fill("12/34")
    page.get_by_label("Code de sécurité").fill("123")
    page.get_by_role("button", name=re.compile(r"^Payer \S+ €$")).click()
    expect(page.get_by_role("heading", level=1, name="Paiement accepté")).to_be_visible(
        timeout=SETTLE_MS
    )
    page.goto(inv["payment_url"] + "/receipt")
    assert page.evaluate(LINES_OF, "SIRET 213 105 554 00017") == 1
    page.get_by_role("link", name="Vérifier ce reçu").click()
    expect(page).to_have_url(re.compile(r"/receipts/verify/"))
    assert page.evaluate(LINES_OF, "SIREN 213 105 554") == 1
