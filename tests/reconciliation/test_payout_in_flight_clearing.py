"""A payout as Stripe makes one at a month's end: created on Friday 30 October (its balance
transaction leaves the PSP's balance then), expected at the bank on Monday 2 November, where
``payout.paid`` is sent and regie books it. The simulator plays it: its payout of 30
October, arriving on 2 November, its events applied on 2 November. October and November
reconciled from the PSP's own lines, each with the bank's statement of the month."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import update

from payments.providers.simulator.commands import bank_statement_file
from payments.providers.simulator.models import SimPayout
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import UTC, found, run, ties
from tests.test_year_boundaries import Clock

OCT_FIRST, OCT_LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
ARRIVAL = dt.date(2026, 11, 2)


async def _payout_paid_next_month(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> str:
    clock.set(dt.datetime(2026, 10, 29, 10, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="PM", amount=2500)
    clock.set(dt.datetime(2026, 10, 30, 12, tzinfo=UTC))
    (made,) = await sim(app).pay_out()  # its line leaves the balance on 30 October
    async with app.state.db.session() as s:  # expected at the bank on Monday 2 November
        await s.execute(update(SimPayout).values(arrival_date=ARRIVAL))
        await s.commit()
    clock.set(dt.datetime(2026, 11, 2, 9, tzinfo=UTC))  # payout.paid, on its arrival day
    assert await app.state.applier.process_batch() >= 1
    return made.payout.id


async def test_a_payout_in_flight_at_month_end_leaves_both_clearing_tie_outs_explained(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """October's ``psp_clearing`` tie-out is -24.37 EUR apart (ledger 24.37, PSP 0: the
    PSP's balance paid the payout out on 30 October, the ledger books it on 2 November)
    and November's +24.37, each with ``in_transit`` 0 and no discrepancy to explain it.
    They should see both agree, the payout counted as in flight at October's end."""
    await _payout_paid_next_month(app, client, keys, clock)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    october = await bank_statement_file(
        settings, OCT_FIRST, OCT_LAST, now=dt.datetime(2026, 10, 31, 22, tzinfo=UTC)
    )
    doc = await run(
        client, keys, OCT_FIRST, OCT_LAST,
        {"camt053": ("oct.xml", october.content, "application/xml")},
    )  # fmt: skip
    assert found(doc) == [], doc["discrepancies"]
    assert ties(doc)[("psp_clearing", "EUR")] == 0, doc["tie_outs"]
