"""The workspace's error pages answering a form (a file over the upload limit, a NUL
character, a run's decision on a run that does not exist, a method no route takes) had a
language link to ``/``, the public site's home: "English" on "File too large" took the
officer out of the workspace. The link now stays in the workspace, on the page the error
page itself links back to."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.test_runs import signed_in
from tests.reconciliation.test_reconcile_api import IBAN


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN, max_upload_bytes=4096)  # type: ignore[no-any-return]


def language_link(html: str) -> str:
    m = re.search(r'<a class="lang-switch" href="([^"]+)"', html)
    assert m, html[:500]
    return unescape(m.group(1))


def back_link(html: str) -> str:
    m = re.search(r'<p><a href="([^"]+)">[^<]*</a></p>\s*</main>', html)
    assert m, html[-800:]
    return m.group(1)


async def test_error_pages_answering_a_form_switch_language_inside_the_workspace(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    csrf = await signed_in(client, keys)
    answers = {
        "too large": await client.post(
            "/finance/bank-statements",
            data={"csrf": csrf},
            files={"camt053": ("big.xml", b"x" * 5000, "application/xml")},
        ),
        "NUL": await client.post(
            "/finance/runs/run_x/discrepancies/dsc_x/resolve", data={"csrf": csrf, "note": "a\0b"}
        ),
        "no such run": await client.post(
            "/finance/runs/run_nothing/discrepancies/dsc_x/resolve",
            data={"csrf": csrf, "note": "vu"},
        ),
        "method": await client.put("/finance/runs"),
    }
    for what, r in answers.items():
        assert r.status_code in (413, 400, 404, 405) and "<h1>" in r.text, (what, r.text[:300])
        link = language_link(r.text)
        assert link == f"{back_link(r.text)}?lang=en", (what, link)
        assert link.startswith("/finance/"), (what, link)
