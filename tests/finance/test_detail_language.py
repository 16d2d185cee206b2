"""A discrepancy's detail is stored as regie writes it, in English ("the PSP moved money
for payment …; the ledger has nothing"), and the French run page showed it as French: a
screen reader read it with the French voice (WCAG 3.1.2, language of parts). regie's own
English is now marked ``lang="en"``; the bank's remittance text (an unexpected credit's
detail, in whatever language the bank's customer wrote it) is left unmarked."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.test_runs import IBAN, camt, lost_and_unexpected, run_id_of, signed_in, start
from tests.finance.test_runs import upload as upload_statement


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def details(html: str) -> dict[str, str]:
    """Each discrepancy's detail paragraph (its opening tag) by the detail's text."""
    found = {}
    for item in re.findall(r'<li class="item" id="d-\w+">(.*?)</li>', html, re.S):
        m = re.search(r"</h3>\s*(<p[^>]*>)(.*?)</p>", item, re.S)
        assert m, item[:500]
        found[unescape(m.group(2))] = m.group(1)
    return found


async def test_regies_english_detail_is_marked_english_on_the_french_page(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await lost_and_unexpected(app, client, keys)
    csrf = await signed_in(client, keys)
    r = await upload_statement(
        client, csrf, camt([("BNK-1", "123.45", "SUBVENTION DEPARTEMENT")]), "releve.xml"
    )
    assert r.status_code == 303
    run_id = run_id_of(await start(client, csrf))

    page = await client.get(f"/finance/runs/{run_id}", headers={"Accept-Language": "fr-FR"})
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    found = details(page.text)
    assert len(found) == 2, found
    ours = next(text for text in found if "the ledger has nothing" in text)
    assert found[ours] == '<p lang="en">'
    assert found["SUBVENTION DEPARTEMENT"] == "<p>"  # the bank's words: language unknown
