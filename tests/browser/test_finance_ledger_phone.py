"""The ledger's balances on a phone (390 px) in a real Chromium against ``regie demo``:
every figure is on the screen, whole, without scrolling sideways."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DemoServer, assert_accessible
from tests.browser.test_finance_workspace import WORDS, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]
PHONE = 390


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_ledger_shows_every_balance_whole_on_a_phone(
    make_page: Callable[..., Page], demo_server: DemoServer, lang: str
) -> None:
    """The ledger's table kept its desktop width (40rem) on a phone and scrolled inside its
    box: its caption and the balances were cut at the screen's edge, and an English
    balance lost its last digits there ("€112.8" for €112.88, "CFPF 5,32" for 5,320), a
    wrong figure for whoever did not think of scrolling it."""
    page = make_page(
        locale="fr-FR" if lang == "fr" else "en-GB",
        viewport={"width": PHONE, "height": 800},
    )
    sign_in(page, demo_server, lang=lang)
    page.goto(f"{demo_server.base_url}/finance/ledger")
    expect(page.get_by_role("heading", level=1)).to_have_text(WORDS[lang]["ledger"])
    table = page.locator("table.ledger")
    cells = table.locator("caption, tbody th, tbody td")
    expect(cells.first).to_be_visible()
    assert cells.count() > 7  # the seed's invoices are booked: a row at least
    for i in range(cells.count()):
        box = cells.nth(i).bounding_box()
        assert box is not None
        text = cells.nth(i).inner_text()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE, f"{text!r} is cut: {box}"
        width = cells.nth(i).evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert width[0] <= width[1], f"{text!r} overflows its cell"
    assert_accessible(page, "ledger on a phone")
