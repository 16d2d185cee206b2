"""What the bank statements page says a run does with the days the statements tell, against
what the run does."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.reconciliation.test_coverage_review import _to_28_then_november
from tests.test_year_boundaries import Clock


async def test_the_page_says_a_payout_due_in_a_gap_after_the_balance_compared_is_in_transit(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """Statements to 28 October, then November's: the page lists 29 October to 1 November
    as never imported and October's run counts the payout due on the 30th in transit. The
    page said a payout due on a day never imported stays missing in the bank, and that only
    payouts due after the last day (30 November) are in transit."""
    _first, last, doc = await _to_28_then_november(
        app, client, keys, settings, clock, both_in_opening=True
    )
    assert last.id in doc["summary"]["in_transit"] and doc["discrepancies"] == []
    assert (await sign_in(client, keys.finance)).status_code == 303
    for lang, says, never in (
        ("en", "up to the first gap after the closing balance it compares",
         "a payout due on a day never imported stays missing in the bank"),
        ("fr", "jusqu'au premier trou après le solde de clôture qu'il compare",
         "un versement attendu un jour jamais importé reste absent de la banque"),
    ):  # fmt: skip
        page = await client.get(f"/finance/bank-statements?lang={lang}")
        text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))
        assert "29 October 2026 – 1 November 2026" in text or lang == "fr"
        assert says in text and never not in text, lang
