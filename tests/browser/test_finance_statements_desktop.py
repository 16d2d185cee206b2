"""The imported statements on a desktop screen (1280 px), in a real Chromium against
``regie demo``: a remark naming a bank reference (one long word) widened its column until
the table no longer fitted, and "Imported" was cut at the edge of its box."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DemoServer
from tests.browser.test_finance_workspace import (
    FINANCE_KEY,
    paid_out_demo,
    regie_cli,
    sign_in,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]
DESKTOP = 1280


@pytest.fixture(scope="module")
def own_demo(
    tmp_path_factory: pytest.TempPathFactory, _chromium_available: None
) -> Iterator[DemoServer]:
    """A demo of its own, with an invoice paid and paid out."""
    with paid_out_demo(tmp_path_factory.mktemp("statements-desktop")) as server:
        yield server


def test_the_imported_statements_fit_a_desktop_screen(
    make_page: Callable[..., Page], own_demo: DemoServer, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    start, end = (today - dt.timedelta(days=1)).isoformat(), today + dt.timedelta(days=20)
    plain, late = tmp_path / "plain.xml", tmp_path / "late.xml"
    for path, quirks in ((plain, []), (late, ["--quirks"])):
        regie_cli(own_demo, "simulator", "bank-statement", "--from", start, "--to", end.isoformat(),
                  "--as-of", end.isoformat(), *quirks, "--output", str(path))  # fmt: skip
    with httpx.Client(base_url=own_demo.base_url, timeout=30) as c:
        for path in (plain, late):  # the late file books the payout on another day: a remark
            r = c.post("/v1/bank-statements", files={"file": (path.name, path.read_bytes())},
                       headers={"Authorization": f"Bearer {FINANCE_KEY}"})  # fmt: skip
            assert r.status_code in (200, 201), r.text
    page = make_page(locale="en-GB", viewport={"width": DESKTOP, "height": 800})
    sign_in(page, own_demo, lang="en")
    page.goto(f"{own_demo.base_url}/finance/bank-statements")
    table = page.locator("table:has(#statements-caption)")
    expect(table).to_contain_text("was imported before as booked on")
    box = table.evaluate("el => el.closest('.table-scroll').getBoundingClientRect().right")
    cells = table.locator("thead th, tbody th, tbody td")
    for i in range(cells.count()):
        cell = cells.nth(i)
        right = cell.evaluate("el => el.getBoundingClientRect().right")
        assert right <= min(box, DESKTOP) + 0.5, f"{cell.inner_text()!r} is cut at {right}, {box}"
