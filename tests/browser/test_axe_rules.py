"""The accessibility check every browser test uses (``assert_accessible``) applies WCAG 2.2's
target size (2.5.8), which axe-core leaves out of a run with no options: a page of two
adjacent 10 px buttons fails it, and passes axe's defaults."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.browser.conftest import assert_accessible

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

SMALL = (
    '<html lang="en"><head><title>Targets</title></head><body><main><h1>Targets</h1>'
    + '<button style="width:10px;height:10px;padding:0;margin:0">a</button>' * 2
    + "</main></body></html>"
)


def test_small_targets_fail_the_check_the_pages_pass(page: Page) -> None:
    page.set_content(SMALL)
    assert Axe().run(page).violations_count == 0  # axe's defaults leave target size out
    with pytest.raises(AssertionError, match="target-size"):
        assert_accessible(page, "page of small buttons")
    page.set_content(SMALL.replace("10px", "24px"))
    assert_accessible(page, "page of 24 px buttons")
