"""Review (fresh): a payout Stripe makes on Friday 30 October, expected at the bank on
Monday 2 November (``payout.paid`` comes then, regie books it), that the bank refuses: on
Wednesday 4 November Stripe takes the money back (a ``payout_failure`` balance transaction)
and sends ``payout.failed``, which regie books. November reconciled from the PSP's port."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from payments.providers.simulator.camt053 import BankAccount, bank_statement
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.months import (
    NOV_FIRST,
    NOV_LAST,
    UTC,
    found,
    payout_failed,
    run,
    ties,
)
from tests.reconciliation.test_payout_paid_next_month import _payout_paid_next_month
from tests.test_year_boundaries import Clock


async def test_november_finds_nothing_for_a_payout_of_october_that_fails_in_november(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """Each of the ledger's two payout entries of November has its PSP line: the payout's
    (30 October, among the lines of the week before) and its failure's (4 November, the
    period's). The finance officer sees ``missing_at_psp`` of 0.00 EUR "the ledger books a
    payout the PSP does not list", and the ``psp_clearing`` tie-out 24.37 EUR apart (the
    PSP's failure line of the period, against a ledger whose movement of November is
    24.37 out and 24.37 back, with no cut-off for the entry of 2 November whose line is
    October's). They should see nothing, and the tie-out agree."""
    po = await _payout_paid_next_month(app, client, keys, clock)
    failed_at = dt.datetime(2026, 11, 4, 9, tzinfo=UTC)
    clock.set(failed_at)
    await payout_failed(app, po, 2437, failed_at)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    camt = bank_statement(
        [], BankAccount(settings.bank_iban), 0, NOV_FIRST, NOV_LAST,
        now=dt.datetime(2026, 11, 19, 22, tzinfo=UTC),
    )  # fmt: skip
    doc = await run(
        client, keys, NOV_FIRST, NOV_LAST, {"camt053": ("releve.xml", camt, "application/xml")}
    )
    assert ties(doc)[("psp_clearing", "EUR")] == 0, doc["tie_outs"]
    assert found(doc) == [], doc["discrepancies"]
