"""A refund that succeeded, was paid out, and failed a few days later in the next month (the
card was closed: the money came back to the PSP's balance, and left it in November's
payout). Each month has its own line at the PSP: the refund in October, its failure in
November; the ledger has the refund's entry in October and its reversal in November."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payments.models import Payment, Refund
from payments.providers.base import EVENT_REFUND_UPDATED, ProviderRefund
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, refund, sim
from tests.reconciliation.months import UTC, deliver, october_and_november, psp_line
from tests.test_year_boundaries import Clock

FAILED_AT = dt.datetime(2026, 11, 3, 10, tzinfo=UTC)


async def test_a_refund_reversed_in_the_next_month_is_no_amount_mismatch_in_either_month(
    app: Any,
    client: httpx.AsyncClient,
    keys: Keys,
    settings: Settings,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A finance officer reconciling October (from the PSP, or with its payout report) sees
    an ``amount_mismatch`` of 10.00 EUR on the refund ("PSP -1000, ledger 0"): the run sums
    the ledger's refund entry of 28 October with its reversal of 3 November (read because
    the ledger is read 7 days past the period), against the PSP's October line alone. The
    refund was made, booked and paid out in October exactly as the PSP says, and both
    tie-outs are zero: they should see no discrepancy (the reversal is November's, with
    its own PSP line). November, likewise, summed the refund's entry of 28 October (read
    a week before the period) with its reversal against the failure's line alone: "PSP
    1000, ledger 0"; each month's line is compared with the entries that move money its
    way, and neither month has a discrepancy."""
    clock.set(dt.datetime(2026, 10, 27, 10, tzinfo=UTC))
    inv = await paid_invoice(client, app, keys.urbanisme, reference="R", amount=2500)
    clock.set(dt.datetime(2026, 10, 28, 10, tzinfo=UTC))
    await refund(client, keys.urbanisme, inv, 1000)
    clock.set(dt.datetime(2026, 10, 28, 12, tzinfo=UTC))
    made = await sim(app).pay_out()
    assert [m.payout.amount for m in made] == [2500 - 63 - 1000]
    await app.state.applier.process_batch()

    # 3 November: the refund fails at the PSP; its money is back in the PSP's balance
    async with app.state.db.session() as s:
        (r,) = (await s.execute(select(Refund))).scalars().all()
        (p,) = (await s.execute(select(Payment))).scalars().all()
    assert r.provider_refund_id and p.provider_payment_id
    clock.set(FAILED_AT)
    await psp_line(
        app, type_="refund_failure", category="refund_failure", source_id=r.provider_refund_id,
        payment_id=p.provider_payment_id, amount=1000, at=FAILED_AT,
    )  # fmt: skip
    provider = sim(app)
    truth = await provider.retrieve_refund(r.provider_refund_id)

    async def failed(refund_id: str) -> ProviderRefund:
        return replace(truth, status="failed", failure_reason="card closed")

    monkeypatch.setattr(provider, "retrieve_refund", failed)
    await deliver(
        app, EVENT_REFUND_UPDATED, FAILED_AT,
        refund_id=r.provider_refund_id, provider_payment_id=p.provider_payment_id,
    )  # fmt: skip
    async with app.state.db.session() as s:
        assert (await s.get(Refund, r.id)).status == "failed"  # type: ignore[union-attr]

    # 4 November: the money given back is paid out
    clock.set(dt.datetime(2026, 11, 4, 12, tzinfo=UTC))
    assert [m.payout.amount for m in await provider.pay_out()] == [1000]
    await app.state.applier.process_batch()

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))  # October and November are reconciled
    assert await october_and_november(client, keys, settings) == {
        (10, "psp"): [],
        (10, "report"): [],
        (11, "psp"): [],
        (11, "report"): [],
    }
