"""A refund on which the PSP returns part of its fee (Stripe does in some accounts and
countries: the refund's balance transaction carries a negative fee), refunded in October and
failing in November (the fee taken back with the money). The ledger books the fee with the
refund and reverses it with the refund, so both months reconcile with no ``fee_mismatch``
and zero tie-outs."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from payments.models import Payment, Refund
from payments.providers.base import EVENT_REFUND_UPDATED, ProviderRefund
from payments.providers.simulator.models import SimBalanceTransaction
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, refund, sim
from tests.reconciliation.months import UTC, deliver, october_and_november, psp_line
from tests.test_year_boundaries import Clock

FEE_BACK = 50  # of the refund's 10.00 EUR, the PSP gives 0.50 EUR of its fee back


async def test_a_fee_returned_on_a_refund_reconciles_in_the_refunds_month_and_its_failures(
    app: Any,
    client: httpx.AsyncClient,
    keys: Keys,
    settings: Settings,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.set(dt.datetime(2026, 10, 27, 10, tzinfo=UTC))
    inv = await paid_invoice(client, app, keys.urbanisme, reference="RF", amount=2500)
    clock.set(dt.datetime(2026, 10, 28, 10, tzinfo=UTC))
    await refund(client, keys.urbanisme, inv, 1000)
    async with app.state.db.session() as s:
        (r,) = (await s.execute(select(Refund))).scalars().all()
        (p,) = (await s.execute(select(Payment))).scalars().all()
        # the PSP's refund line: the fee given back (the simulator's refunds have none)
        await s.execute(
            update(SimBalanceTransaction)
            .where(SimBalanceTransaction.source_id == r.provider_refund_id)  # type: ignore[arg-type]
            .values(fee=-FEE_BACK, net=-1000 + FEE_BACK)
        )
        await s.commit()
    assert r.provider_refund_id and p.provider_payment_id
    provider = sim(app)
    truth = await provider.retrieve_refund(r.provider_refund_id)
    reads = {"status": "succeeded"}

    async def with_fee(refund_id: str) -> ProviderRefund:
        return replace(truth, status=reads["status"], fee=-FEE_BACK, fee_currency="EUR")

    monkeypatch.setattr(provider, "retrieve_refund", with_fee)
    for _ in range(2):  # the refund's event, delivered twice
        await deliver(
            app, EVENT_REFUND_UPDATED, dt.datetime(2026, 10, 28, 10, 1, tzinfo=UTC),
            refund_id=r.provider_refund_id, provider_payment_id=p.provider_payment_id,
        )  # fmt: skip
    clock.set(dt.datetime(2026, 10, 28, 12, tzinfo=UTC))
    assert [m.payout.amount for m in await provider.pay_out()] == [2500 - 63 - 1000 + FEE_BACK]
    await app.state.applier.process_batch()

    failed_at = dt.datetime(2026, 11, 3, 10, tzinfo=UTC)
    clock.set(failed_at)
    await psp_line(
        app, type_="refund_failure", category="refund_failure", source_id=r.provider_refund_id,
        payment_id=p.provider_payment_id, amount=1000, fee=FEE_BACK, at=failed_at,
    )  # fmt: skip
    reads["status"] = "failed"
    await deliver(
        app, EVENT_REFUND_UPDATED, failed_at,
        refund_id=r.provider_refund_id, provider_payment_id=p.provider_payment_id,
    )  # fmt: skip
    clock.set(dt.datetime(2026, 11, 4, 12, tzinfo=UTC))
    assert [m.payout.amount for m in await provider.pay_out()] == [1000 - FEE_BACK]
    await app.state.applier.process_batch()

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert await october_and_november(client, keys, settings) == {
        (10, "psp"): [],
        (10, "report"): [],
        (11, "psp"): [],
        (11, "report"): [],
    }
