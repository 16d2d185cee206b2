"""The service cancels an invoice while a citizen's Pay is recording its new checkout (on
PostgreSQL, concurrent transactions).

The Pay press records the checkout's id on its payment in a short transaction, holding the
payment's row lock. A cancel running meanwhile must not decide from an earlier read of that
payment (no checkout id yet: nothing to close at the PSP): either the Pay press sees the
payment canceled and closes its checkout, or the cancel sees the checkout and closes it.
Otherwise the citizen is sent to a card page of a canceled invoice that stays open, pays
it, and the payment is an overpayment, refunded days later, less the PSP's fee."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payments import repository
from payments.models import Payment
from payments.providers.simulator.models import SimCheckout
from tests.conftest import BASE_URL, Keys, create_invoice, token_of
from tests.lock_waits import lock_waiters
from tests.payments.test_duplicate_payment import CARD, run_worker_drains

pytestmark = pytest.mark.postgres


async def test_a_cancel_while_the_checkout_is_being_recorded_closes_that_checkout(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    sim = app.state.payments.provider
    real_open, real_get = sim.create_checkout, repository.get_payment
    opened: list[Any] = []
    cancel: list[asyncio.Task[httpx.Response]] = []

    async def create_checkout(*args: Any) -> Any:
        opened.append(await real_open(*args))
        return opened[-1]

    async def get_payment(s: Any, payment_id: str, **kwargs: Any) -> Any:
        got = await real_get(s, payment_id, **kwargs)
        if opened and kwargs.get("lock") and not cancel:
            # the Pay press holds its payment's lock to record the checkout: the service
            # cancels now, and goes until it is done or waits on that lock
            cancel.append(
                asyncio.create_task(
                    client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
                )
            )
            for _ in range(500):
                if cancel[0].done() or await lock_waiters(app.state.db):
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the cancel neither finished nor waited on a lock")
        return got

    monkeypatch.setattr(sim, "create_checkout", create_checkout)
    monkeypatch.setattr(repository, "get_payment", get_payment)
    pressed = await client.post(f"/pay/{token_of(inv)}/checkout")
    canceled = await asyncio.wait_for(cancel[0], 10)
    monkeypatch.undo()
    assert canceled.status_code == 200, canceled.text
    assert pressed.status_code == 303, pressed.text

    (session,) = opened
    await run_worker_drains(app)
    async with app.state.db.session() as s:
        checkout = await s.get(SimCheckout, session.id)
        assert checkout is not None and checkout.status == "canceled"  # closed at the PSP
        (payment,) = (await s.execute(select(Payment))).scalars().all()
    assert payment.status == "canceled"
    # the card page, whichever the citizen reached, takes no card: nothing is paid
    await client.post(session.url.removeprefix(BASE_URL), data=CARD)
    await run_worker_drains(app)
    got = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert (got.json()["status"], got.json()["amount_paid"]) == ("canceled", 0)
    assert [p["status"] for p in got.json()["payments"]] == ["canceled"]
