"""A dispute whose fee changes after it was first booked: Stripe charges a further fee when
the dispute is countered, and gives a fee back when it is won (the reinstatement's balance
transaction carries a negative fee). The ledger follows the PSP's fee totals, so the books,
the PSP clearing account and both months' reconciliations agree with the PSP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from ledger.models import JournalEntry
from payments.models import Payment
from payments.providers.base import (
    EVENT_DISPUTE_CLOSED,
    EVENT_DISPUTE_FUNDS_REINSTATED,
    EVENT_DISPUTE_OPENED,
    ProviderDispute,
)
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import UTC, deliver, october_and_november, psp_line
from tests.test_year_boundaries import Clock

DP = "dp_countered_1"


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


async def test_a_countered_dispute_won_next_month_books_every_fee_change_once(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """October: a chargeback of 40.00 EUR with its 15.00 EUR dispute fee, then countered
    (a further 15.00 EUR fee, on its own balance transaction of the dispute). November: won,
    the funds and the countering fee given back (the reinstatement's fee is -15.00). The
    ledger books 15 + 15 - 15 = 15.00 EUR of dispute fees, as the PSP kept; every event
    delivered twice books nothing more; October and November reconcile with no
    discrepancy and zero tie-outs."""
    clock.set(dt.datetime(2026, 10, 26, 10, tzinfo=UTC))
    inv = await paid_invoice(client, app, keys.urbanisme, reference="DC", amount=10000)
    async with app.state.db.session() as s:
        (p,) = (await s.execute(select(Payment).where(col(Payment.invoice_id) == inv))).scalars()
    ppid = str(p.provider_payment_id)
    provider = sim(app)
    before = await balances(app)
    event = {"dispute_id": DP, "provider_payment_id": ppid, "amount": 4000, "currency": "EUR"}

    opened = dt.datetime(2026, 10, 27, 10, tzinfo=UTC)
    clock.set(opened)
    await psp_line(
        app, type_="dispute", category="dispute", source_id=DP, payment_id=ppid,
        amount=-4000, fee=1500, at=opened,
    )  # fmt: skip
    provider.set_dispute(ProviderDispute(
        DP, ppid, 4000, "EUR", "needs_response", withdrawn=4000, fee=1500, fee_currency="EUR",
    ))  # fmt: skip
    await deliver(app, EVENT_DISPUTE_OPENED, opened, **event)

    countered = dt.datetime(2026, 10, 28, 10, tzinfo=UTC)
    clock.set(countered)
    await psp_line(
        app, type_="dispute", category="dispute", source_id=DP, payment_id=ppid,
        amount=0, fee=1500, at=countered,
    )  # fmt: skip
    provider.set_dispute(ProviderDispute(
        DP, ppid, 4000, "EUR", "under_review", withdrawn=4000, fee=3000, fee_currency="EUR",
    ))  # fmt: skip
    await deliver(app, EVENT_DISPUTE_OPENED, countered, **event)  # charge.dispute.updated
    await deliver(app, EVENT_DISPUTE_OPENED, countered, **event)  # delivered again
    bal = await balances(app)
    assert bal[("expenses:dispute_fees", "EUR")] == 3000
    psp = ("assets:psp:simulator", "EUR")
    assert bal[psp] - before[psp] == -4000 - 3000

    clock.set(dt.datetime(2026, 10, 29, 12, tzinfo=UTC))
    (made,) = await provider.pay_out()
    assert made.payout.amount == 10000 - 175 - 4000 - 3000
    await app.state.applier.process_batch()

    won = dt.datetime(2026, 11, 3, 10, tzinfo=UTC)
    clock.set(won)
    await psp_line(
        app, type_="dispute", category="dispute_reversal", source_id=DP,
        payment_id=ppid, amount=4000, fee=-1500, at=won,
    )  # fmt: skip
    provider.set_dispute(ProviderDispute(
        DP, ppid, 4000, "EUR", "won", withdrawn=4000, reinstated=4000, closed=True, won=True,
        fee=3000, fee_returned=1500, fee_currency="EUR",
    ))  # fmt: skip
    await deliver(app, EVENT_DISPUTE_FUNDS_REINSTATED, won, **event)
    await deliver(app, EVENT_DISPUTE_CLOSED, won, **event, status="won")
    await deliver(app, EVENT_DISPUTE_OPENED, won, **event)  # a late charge.dispute.updated
    bal = await balances(app)
    assert bal[("expenses:dispute_fees", "EUR")] == 1500  # what the PSP kept
    assert bal[("expenses:disputes", "EUR")] == before.get(("expenses:disputes", "EUR"), 0)
    async with app.state.db.session() as s:
        keys_ = sorted(
            (e.kind, e.source_key)
            for e in (await s.execute(select(JournalEntry))).scalars()
            if e.source_key.startswith(f"dispute:{DP}:fee")
        )
    assert keys_ == [
        ("dispute_fee", f"dispute:{DP}:fee"),
        ("dispute_fee", f"dispute:{DP}:fee:3000"),
        ("dispute_fee_returned", f"dispute:{DP}:fee_returned"),
    ]

    clock.set(dt.datetime(2026, 11, 4, 12, tzinfo=UTC))
    assert [m.payout.amount for m in await provider.pay_out()] == [4000 + 1500]
    await app.state.applier.process_batch()

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert await october_and_november(client, keys, settings) == {
        (10, "psp"): [],
        (10, "report"): [],
        (11, "psp"): [],
        (11, "report"): [],
    }
