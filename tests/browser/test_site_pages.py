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
