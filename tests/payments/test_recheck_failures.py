"""The pending re-check when the PSP's word about one payment cannot be applied: that
payment is left for a human, and the others are re-checked all the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select, update

from payments.models import Payment
from payments.providers.base import ProviderPayment
from tests.conftest import Keys, create_invoice, start_checkout


async def _pending(client: httpx.AsyncClient, key: str, reference: str) -> tuple[str, str]:
    inv = await create_invoice(client, key, reference=reference)
    checkout_id, _ = await start_checkout(client, inv)
    return inv["id"], checkout_id


async def test_a_payment_the_psp_disagrees_about_does_not_stop_the_recheck_of_the_others(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    bad_invoice, bad_checkout = await _pending(client, keys.urbanisme, "RC-1")
    good_invoice, good_checkout = await _pending(client, keys.urbanisme, "RC-2")
    now = dt.datetime.now(dt.UTC)
    async with app.state.db.session() as s:
        payments = {p.checkout_id: p for p in (await s.execute(select(Payment))).scalars()}
        # the one the PSP disagrees about is the longest due: it comes first
        for checkout, ago in ((bad_checkout, 120), (good_checkout, 60)):
            await s.execute(
                update(Payment)
                .where(Payment.id == payments[checkout].id)
                .values(next_check_at=now - dt.timedelta(seconds=ago))
            )
        await s.commit()

    async def retrieve_payment(ref: str) -> ProviderPayment:
        p = payments[ref]
        return ProviderPayment(
            checkout_id=ref,
            provider_payment_id=f"sp_test_{ref}",
            status="succeeded",
            amount=p.amount + (1 if ref == bad_checkout else 0),  # the PSP disagrees
            currency=p.currency,
            payment_ref=p.id,
            fee=0,
        )

    monkeypatch.setattr(app.state.payments.provider, "retrieve_payment", retrieve_payment)
    for _ in range(2):  # the job runs every minute: the next run too
        await app.state.payments.recheck_pending()

    async def status(invoice_id: str) -> str:
        r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))
        return str(r.json()["status"])

    assert await status(good_invoice) == "paid"
    assert await status(bad_invoice) == "open"  # never applied: left for a human
    async with app.state.db.session() as s:
        bad = await s.get(Payment, payments[bad_checkout].id)
    assert bad is not None
    assert bad.status == "pending"
    # asked again later, not at every run of the job
    assert bad.check_count == 1
    assert bad.next_check_at is not None and bad.next_check_at > now + dt.timedelta(minutes=59)
