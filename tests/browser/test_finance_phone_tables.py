"""The dashboard's balances and a run's discrepancies by category on a phone (375 px, an
English page, whose words are the wider there) in a real Chromium against ``regie demo``:
every cell is on the screen, whole, without scrolling sideways."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import DemoServer
from tests.browser.test_finance_workspace import (
    RECON,
    paid_out_demo,
    regie_cli,
    sign_in,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]
PHONE = 375


def assert_whole(cells: Locator) -> None:
    """Each cell ends inside the screen and inside the box its table scrolls in (what the
    eye sees of it), and its text fits the cell."""
    expect(cells.first).to_be_visible()
    for i in range(cells.count()):
        cell = cells.nth(i)
        text = cell.inner_text()
        right, seen = cell.evaluate(
            """el => [el.getBoundingClientRect().right,
                      el.closest('.table-scroll').getBoundingClientRect().right]"""
        )
        assert right <= min(seen, PHONE) + 0.5, f"{text!r} is cut: it ends at {right}, {seen}"
        width = cell.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert width[0] <= width[1], f"{text!r} overflows its cell"


def test_the_dashboard_shows_every_balance_whole_on_a_phone(
    make_page: Callable[..., Page], own_demo: DemoServer
) -> None:
    """The clearing and bank balances kept their desktop table on a phone and scrolled
    inside its box: the English column "Balance" and its figure were cut at the screen's
    edge ("€0.0" for €0.00)."""
    page = make_page(locale="en-GB", viewport={"width": PHONE, "height": 812})
    sign_in(page, own_demo, lang="en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    tables = page.locator("table:has(#clearing-caption), table:has(#bank-caption)")
    expect(tables).to_have_count(2)
    assert_whole(tables.locator("tbody th, tbody td"))
    expect(tables.locator('td[data-label="Balance"]').first).to_be_visible()


@pytest.fixture(scope="module")
def own_demo(
    tmp_path_factory: pytest.TempPathFactory, _chromium_available: None
) -> Iterator[DemoServer]:
    """A demo of its own (the bank's grant below is a discrepancy the shared demo's other
    tests must not see), with an invoice paid and paid out: a clearing and a bank balance."""
    with paid_out_demo(tmp_path_factory.mktemp("phone-tables")) as server:
        yield server


def test_a_runs_categories_show_every_figure_whole_on_a_phone(
    make_page: Callable[..., Page], own_demo: DemoServer, tmp_path: Path
) -> None:
    """The table of discrepancies by category scrolled inside its box on a phone: in
    English its "Amount" column was cut at the screen's edge ("€1,500.0")."""
    today = dt.datetime.now(dt.UTC).date()
    start = (today - dt.timedelta(days=6)).isoformat()
    statement = tmp_path / "grant.xml"
    regie_cli(own_demo, "simulator", "bank-statement", "--from", start, "--to", today.isoformat(),
              "--quirks", "--output", str(statement))  # fmt: skip
    r = RECON["en"]
    page = make_page(locale="en-GB", viewport={"width": PHONE, "height": 812})
    sign_in(page, own_demo, lang="en")
    page.goto(f"{own_demo.base_url}/finance/bank-statements")
    page.get_by_label(r["camt"]).set_input_files(str(statement))
    page.get_by_role("button", name=r["import"], exact=True).click()
    page.goto(f"{own_demo.base_url}/finance/runs")
    page.get_by_label(r["from"], exact=True).fill(start)
    page.get_by_label(r["to"], exact=True).fill(today.isoformat())
    page.get_by_role("button", name=r["start"]).click()
    table = page.locator("table:has(#cat-caption)")
    expect(table).to_contain_text("Unexpected bank credit")
    assert_whole(table.locator("caption, tbody th, tbody td"))
    grant = table.locator("tbody tr").filter(has_text="Unexpected bank credit")
    expect(grant.locator('td[data-label="Amount"]')).to_have_text("€1,500.00")


def test_a_runs_headings_never_start_a_line_with_their_separator_on_a_phone(
    make_page: Callable[..., Page], own_demo: DemoServer, tmp_path: Path
) -> None:
    """A discrepancy's heading ("1 500,00 € · Crédit bancaire inattendu") and a
    suggestion's wrapped after the amount on a 360 px phone, so the next line began with
    the "·" that separates them (seen on the README's tour): the separator stays on the
    amount's line."""
    today = dt.datetime.now(dt.UTC).date()
    start = (today - dt.timedelta(days=6)).isoformat()
    statement = tmp_path / "grant.xml"
    regie_cli(own_demo, "simulator", "bank-statement", "--from", start, "--to", today.isoformat(),
              "--quirks", "--output", str(statement))  # fmt: skip
    r = RECON["fr"]
    page = make_page(locale="fr-FR", viewport={"width": 360, "height": 800})
    sign_in(page, own_demo, lang="fr")
    page.goto(f"{own_demo.base_url}/finance/bank-statements")
    page.get_by_label(r["camt"]).set_input_files(str(statement))
    page.get_by_role("button", name=r["import"], exact=True).click()
    page.goto(f"{own_demo.base_url}/finance/runs")
    page.get_by_label(r["from"], exact=True).fill(start)
    page.get_by_label(r["to"], exact=True).fill(today.isoformat())
    page.get_by_role("button", name=r["start"]).click()
    headings = page.locator("h3:has(.amount-inline)")
    expect(headings.filter(has_text="Crédit bancaire inattendu")).to_have_count(1)
    for i in range(headings.count()):
        heading = headings.nth(i)
        amount_top, dot_top = heading.evaluate(
            """h => {
                const amount = h.querySelector('.amount-inline');
                const node = amount.nextSibling;
                const at = node.textContent.indexOf('·');
                const range = document.createRange();
                range.setStart(node, at);
                range.setEnd(node, at + 1);
                return [amount.getBoundingClientRect().top, range.getBoundingClientRect().top];
            }"""
        )
        assert abs(dot_top - amount_top) < 2, (
            f"{heading.inner_text()!r}: the '·' starts a line of its own ({dot_top} vs {amount_top})"
        )


def test_the_dashboards_open_discrepancies_keep_their_separator_with_the_amount_on_a_phone(
    make_page: Callable[..., Page], own_demo: DemoServer, tmp_path: Path
) -> None:
    """The dashboard's link to an open discrepancy ("1 500,00 € · Crédit bancaire
    inattendu") keeps the "·" on the amount's line and a space after it on a 360 px phone
    (the link is a flex box: a span around the amount and the dot lost that space)."""
    today = dt.datetime.now(dt.UTC).date()
    start = (today - dt.timedelta(days=6)).isoformat()
    statement = tmp_path / "grant.xml"
    regie_cli(own_demo, "simulator", "bank-statement", "--from", start, "--to", today.isoformat(),
              "--quirks", "--output", str(statement))  # fmt: skip
    r = RECON["fr"]
    page = make_page(locale="fr-FR", viewport={"width": 360, "height": 800})
    sign_in(page, own_demo, lang="fr")
    page.goto(f"{own_demo.base_url}/finance/bank-statements")
    page.get_by_label(r["camt"]).set_input_files(str(statement))
    page.get_by_role("button", name=r["import"], exact=True).click()
    page.goto(f"{own_demo.base_url}/finance/runs")
    page.get_by_label(r["from"], exact=True).fill(start)
    page.get_by_label(r["to"], exact=True).fill(today.isoformat())
    page.get_by_role("button", name=r["start"]).click()
    page.goto(f"{own_demo.base_url}/finance/")
    link = page.locator("a[href*='#d-']").filter(has_text="Crédit bancaire inattendu").first
    said = " ".join(link.inner_text().replace("\u00a0", " ").replace("\u202f", " ").split())
    assert said == "1 500,00 € · Crédit bancaire inattendu"
    first_top, dot_top, space = link.evaluate(
        """a => {
            const walker = document.createTreeWalker(a, NodeFilter.SHOW_TEXT);
            const nodes = [];
            while (walker.nextNode()) nodes.push(walker.currentNode);
            const rect = (node, i) => {
                const range = document.createRange();
                range.setStart(node, i);
                range.setEnd(node, i + 1);
                return range.getBoundingClientRect();
            };
            const dotNode = nodes.find(n => n.textContent.includes('·'));
            const dotAt = dotNode.textContent.indexOf('·');
            const dot = rect(dotNode, dotAt);
            const wordNode = nodes.find(n => n.textContent.includes('Crédit'));
            const word = rect(wordNode, wordNode.textContent.indexOf('Crédit'));
            const sameLine = Math.abs(word.top - dot.top) < 2;
            return [rect(nodes[0], 0).top, dot.top, sameLine ? word.left - dot.right : null];
        }"""
    )
    assert abs(dot_top - first_top) < 2, (
        f"{said!r}: the '·' starts a line ({dot_top} vs {first_top})"
    )
    assert space is None or space >= 2, f"{said!r}: no space after the '·' ({space} px)"
