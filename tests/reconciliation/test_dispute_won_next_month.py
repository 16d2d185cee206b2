"""A dispute opened (funds and the dispute fee withdrawn) and paid out in October, won a few
days later in November (funds and fee given back). The PSP has one line each month: the
dispute in October, its reversal in November; the ledger books the withdrawal and the fee
in October, the reinstatement and the fee's return in November (paid out in November)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from payments.models import Payment
from payments.providers.base import EVENT_DISPUTE_CLOSED, EVENT_DISPUTE_OPENED, ProviderDispute
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import UTC, deliver, october_and_november, psp_line
from tests.test_year_boundaries import Clock


async def test_a_dispute_won_in_the_next_month_is_no_amount_mismatch_in_either_month(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """A finance officer reconciling October (from the PSP, or with its payout report) sees
    an ``amount_mismatch`` of 40.00 EUR on the dispute ("PSP -4000, ledger 0"): the run
    sums the ledger's October withdrawal with November's reinstatement (the ledger is read
    7 days past the period) against the PSP's October line alone. October is consistent
    (the dispute's line and fee match the ledger's entries, the payout is at the bank, the
    tie-outs are zero): they should see no discrepancy. November, likewise, summed the
    October withdrawal (read a week before the period) with the reinstatement against the
    reversal's line alone; each month's line is compared with the entries that move money
    its way, and neither month has a discrepancy."""
    clock.set(dt.datetime(2026, 10, 26, 10, tzinfo=UTC))
    inv = await paid_invoice(client, app, keys.urbanisme, reference="D", amount=10000)
    async with app.state.db.session() as s:
        (p,) = (await s.execute(select(Payment).where(col(Payment.invoice_id) == inv))).scalars()
    ppid = str(p.provider_payment_id)
    provider = sim(app)

    opened = dt.datetime(2026, 10, 27, 10, tzinfo=UTC)
    clock.set(opened)
    await psp_line(
        app, type_="dispute", category="dispute", source_id="dp_review_1", payment_id=ppid,
        amount=-4000, fee=1500, at=opened,
    )  # fmt: skip
    provider.set_dispute(ProviderDispute(
        "dp_review_1", ppid, 4000, "EUR", "needs_response", withdrawn=4000, fee=1500,
    ))  # fmt: skip
    await deliver(app, EVENT_DISPUTE_OPENED, opened, dispute_id="dp_review_1",
                  provider_payment_id=ppid, amount=4000, currency="EUR")  # fmt: skip
    clock.set(dt.datetime(2026, 10, 27, 12, tzinfo=UTC))
    (made,) = await provider.pay_out()
    assert made.payout.amount == 10000 - 175 - 4000 - 1500  # the charge net of its fee
    await app.state.applier.process_batch()

    won = dt.datetime(2026, 11, 3, 10, tzinfo=UTC)  # a week later, in November
    clock.set(won)
    await psp_line(
        app, type_="dispute", category="dispute_reversal", source_id="dp_review_1",
        payment_id=ppid, amount=4000, fee=-1500, at=won,
    )  # fmt: skip
    provider.set_dispute(ProviderDispute(
        "dp_review_1", ppid, 4000, "EUR", "won", withdrawn=4000, reinstated=4000,
        closed=True, won=True, fee=1500, fee_returned=1500,
    ))  # fmt: skip
    await deliver(app, EVENT_DISPUTE_CLOSED, won, dispute_id="dp_review_1",
                  provider_payment_id=ppid, amount=4000, currency="EUR", status="won")  # fmt: skip

    clock.set(dt.datetime(2026, 11, 4, 12, tzinfo=UTC))  # what came back is paid out
    assert [m.payout.amount for m in await provider.pay_out()] == [4000 + 1500]
    await app.state.applier.process_batch()

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))  # October and November are reconciled
    assert await october_and_november(client, keys, settings) == {
        (10, "psp"): [],
        (10, "report"): [],
        (11, "psp"): [],
        (11, "report"): [],
    }
