"""Two workers run the same periodic job at the same moment (PostgreSQL).

Operators scale out or restart carelessly: two ``regie worker`` processes, or a worker
and a second one a deploy started, share one database and run each sweep at once. Each
test holds the row the sweep locks first, lets both sweeps reach that lock, then lets
them go: what the sweep does happens once (one refund at the PSP, one expiry, one
settlement of a payment with its one automatic refund)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from payments.models import Invoice, Payment, Refund, StateChange
from payments.providers.base import ProviderError
from payments.providers.simulator.models import SimBalanceTransaction, SimPayment
from payments.service.psp_events import recheck_delay
from payments.service.refund_outcomes import REFUND_RETRY
from regie.kit.database import utcnow
from tests.conftest import (
    Keys,
    create_invoice,
    pay,
    pay_twice,
    start_checkout,
    two_checkouts_at_once,
)
from tests.lock_waits import lock_waiters

pytestmark = pytest.mark.postgres

CARD = {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}


async def both_at_once(app: Any, holder: Any, *jobs: Awaitable[Any]) -> list[Any]:
    """Start the jobs while ``holder`` keeps the row they lock first; once each waits on
    it, let them go, and return what each returned."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    for _ in range(500):
        if any(t.done() for t in tasks) or await lock_waiters(app.state.db) >= len(tasks):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the jobs never all waited on the lock")
    assert not any(t.done() for t in tasks), "a job ended without waiting for the lock"
    await holder.rollback()
    return list(await asyncio.wait_for(asyncio.gather(*tasks), 20))


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


async def test_two_refund_sweeps_at_once_refund_an_overpayment_once(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    refunds = app.state.payments.refunds
    async with app.state.db.session() as holder:
        # the PSP is busy with the payments: both sweeps reach it and wait there
        await holder.execute(select(SimPayment).with_for_update())
        await both_at_once(app, holder, refunds.retry_due(), refunds.retry_due())
    async with app.state.db.session() as s:
        rows = (await s.execute(select(Refund))).scalars().all()
        sim = (await s.execute(select(SimPayment))).scalars().all()
    assert [(r.origin, r.status, r.amount) for r in rows] == [("overpayment", "succeeded", 2500)]
    assert sorted(p.amount_refunded for p in sim) == [0, 2500]  # one refund at the PSP
    bal = await balances(app)
    assert bal[("liabilities:overpayments", "EUR")] == 0
    assert bal[("income:urbanisme", "EUR")] == -2500


async def test_two_expiry_sweeps_at_once_expire_an_invoice_once(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await start_checkout(client, inv)  # a pending payment, expired with its invoice
    async with app.state.db.session() as s:
        await s.execute(
            update(Invoice)
            .where(Invoice.id == inv["id"])
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        await s.commit()
    payments = app.state.payments
    async with app.state.db.session() as holder:
        await holder.execute(select(Invoice).where(Invoice.id == inv["id"]).with_for_update())
        counts = await both_at_once(app, holder, payments.expire_due(), payments.expire_due())
    assert sorted(counts) == [0, 1]
    async with app.state.db.session() as s:
        changes = (
            await s.execute(select(StateChange).where(StateChange.to_status == "expired"))
        ).scalars()
        expired = sorted(c.object for c in changes)
    assert expired == ["invoice", "payment"]  # each once
    assert (await balances(app)).get(("receivable:urbanisme", "EUR"), 0) == 0


async def test_two_rechecks_at_once_settle_a_late_duplicate_once(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """A second tab's payment went through at the PSP, its event not applied yet: two
    re-checks of it at once record it once, and reserve its automatic refund once."""
    inv = await create_invoice(client, keys.urbanisme)
    first, second = await two_checkouts_at_once(client, app, inv)
    await client.post(first, data=CARD)
    await app.state.applier.process_batch()  # the invoice is paid
    await client.post(second, data=CARD)  # the other tab's page, not closed yet: paid too
    async with app.state.db.session() as s:
        (late,) = (
            await s.execute(
                select(Payment).where(Payment.invoice_id == inv["id"], Payment.status == "pending")
            )
        ).scalars()
        await s.execute(
            update(Payment)
            .where(Payment.id == late.id)
            .values(next_check_at=utcnow() - dt.timedelta(seconds=1))
        )
        await s.commit()
    payments = app.state.payments
    async with app.state.db.session() as holder:
        await holder.execute(select(Invoice).where(Invoice.id == inv["id"]).with_for_update())
        changed = await both_at_once(
            app, holder, payments.recheck_pending(), payments.recheck_pending()
        )
    assert sorted(changed) == [0, 1]
    async with app.state.db.session() as s:
        rows = (await s.execute(select(Refund))).scalars().all()
        settled = (
            await s.execute(
                select(StateChange).where(
                    StateChange.payment_id == late.id, StateChange.to_status == "succeeded"
                )
            )
        ).scalars()
        assert len(list(settled)) == 1
    assert [(r.origin, r.payment_id, r.amount) for r in rows] == [("overpayment", late.id, 2500)]
    assert (await balances(app))[("liabilities:overpayments", "EUR")] == -2500


async def test_two_payout_jobs_at_once_pay_the_balance_out_once(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The simulator's daily payout of two workers: the balance leaves once, and regie
    books one payout."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    sim = app.state.payments.provider
    tomorrow = utcnow() + dt.timedelta(days=2)
    async with app.state.db.session() as holder:
        await holder.execute(select(SimBalanceTransaction).with_for_update())
        made = await both_at_once(app, holder, sim.pay_out(tomorrow), sim.pay_out(tomorrow))
    assert sorted(len(m) for m in made) == [0, 1]
    await app.state.applier.process_batch()
    bal = await balances(app)
    assert bal[("assets:psp:simulator", "EUR")] == 0


async def test_two_rechecks_at_once_of_a_payment_still_pending_count_one_check(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """Both sweeps find the checkout still open: the payment was checked once, and is
    asked again after the backoff's next step (1 h), not the one after (a day): two
    workers do not make a payment whose webhook was lost wait longer."""
    inv = await create_invoice(client, keys.urbanisme)
    await start_checkout(client, inv)
    async with app.state.db.session() as s:
        await s.execute(
            update(Payment)
            .where(Payment.invoice_id == inv["id"])
            .values(next_check_at=utcnow() - dt.timedelta(seconds=1))
        )
        await s.commit()
    payments = app.state.payments
    async with app.state.db.session() as holder:
        await holder.execute(select(Invoice).where(Invoice.id == inv["id"]).with_for_update())
        changed = await both_at_once(
            app, holder, payments.recheck_pending(), payments.recheck_pending()
        )
    assert changed == [0, 0]
    async with app.state.db.session() as s:
        (p,) = (await s.execute(select(Payment))).scalars()
    assert p.status == "pending"
    assert p.check_count == 1
    assert p.next_check_at is not None
    assert p.next_check_at - utcnow() <= recheck_delay(1)


@pytest.mark.parametrize("failure", ["no answer", "the submission fails"])
async def test_two_refund_sweeps_that_fail_count_one_attempt(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """Both sweeps ask the PSP for the automatic refund and get no answer (each reschedules
    it under the invoice's lock), or their submission fails unexpectedly, not with a PSP
    error (a bug, a lost connection: each postpones it under the refund's lock). Either
    way one attempt is counted, and the refund is tried again after the first delay, not
    the second."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)

    async def fail(*args: Any, **kwargs: Any) -> Any:
        if failure == "no answer":
            raise ProviderError("unavailable", "the PSP did not answer", retryable=True)
        raise RuntimeError("the submission failed")

    monkeypatch.setattr(app.state.payments.provider, "refund", fail)
    locked = select(Invoice).where(Invoice.id == inv["id"])
    if failure != "no answer":
        locked = select(Refund)  # what postponing locks
    refunds = app.state.payments.refunds
    async with app.state.db.session() as holder:
        await holder.execute(locked.with_for_update())
        await both_at_once(app, holder, refunds.retry_due(), refunds.retry_due())
    async with app.state.db.session() as s:
        (r,) = (await s.execute(select(Refund))).scalars()
    assert (r.status, r.attempts) == ("pending", 1)
    assert r.next_attempt_at - utcnow() <= REFUND_RETRY[0]
