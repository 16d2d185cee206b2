"""The workspace's run form with a period no reconciliation computes with: the page says
why (the service's words, in the page's language), never a 500, and nothing is stored."""

from __future__ import annotations

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
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


REPORT = (
    b"automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created,"
    b"currency,gross,fee,net,reporting_category,payment_intent_id\n"
    b"po_1,2026-10-05 00:00:00,txn_1,2026-10-03 10:00:00,eur,25.00,0.63,24.37,charge,pi_1\n"
)


@pytest.mark.parametrize(("day_from", "day_to", "said"),
                         [("0001-01-02", "0001-01-31", "2 janvier 1"),
                          ("0001-01-01", "0001-01-01", "1er janvier 1")])  # fmt: skip
async def test_a_period_out_of_range_is_said_on_the_page(
    client: httpx.AsyncClient, keys: Keys, day_from: str, day_to: str, said: str
) -> None:
    csrf = await signed_in(client, keys)
    for files in ({"stripe_csv": ("payouts.csv", REPORT, "text/csv")},
                  {"stripe_csv": ("", b"", "application/octet-stream")}):  # fmt: skip
        r = await client.post(
            "/finance/runs",
            data={"csrf": csrf, "period_from": day_from, "period_to": day_to},
            files=files,
        )
        assert r.status_code == 422, r.text[:2000]
        assert (
            f"Le début de la période, {said}, est hors limites\u00a0: regie rapproche les jours "
            "du 1er janvier 2000 au "
            "31 décembre 9998."
        ) in unescape(r.text)
    page = await client.get("/finance/runs")
    assert "Aucun rapprochement pour l'instant." in unescape(page.text)
