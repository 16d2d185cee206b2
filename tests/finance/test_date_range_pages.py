"""A day regie cannot count from (``0001-01-01``, ``9999-12-31``: the edge guard refuses
them before any route) typed in a workspace form sent in the address (the invoices' "from" and
"to", the ledger's day) got the "Request refused" page with the API's English reason, on the French
page too, and a reason that reads wrong for 9999-12-31 ("must be within 0001–9999"). The
page now says it in the page's language, naming the days regie takes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.test_runs import page_text, signed_in
from tests.reconciliation.test_reconcile_api import IBAN

FR = "Cette date est hors des jours que regie sait compter"
EN = "This date is outside the days regie can count"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "path",
    [
        "/finance/invoices?to=9999-12-31",
        "/finance/ledger?at=0001-01-01",
        "/finance/invoices.csv?from=9999-12-31",
    ],
)
async def test_a_day_out_of_range_in_an_address_is_said_in_the_pages_language(
    client: httpx.AsyncClient, keys: Keys, path: str
) -> None:
    await signed_in(client, keys)
    fr = await client.get(path, headers={"Accept-Language": "fr"})
    assert fr.status_code == 422 and '<html lang="fr">' in fr.text
    assert FR in page_text(fr) and "The date is out of range" not in fr.text
    en = await client.get(path, headers={"Accept-Language": "en"})
    assert en.status_code == 422 and EN in page_text(en)
