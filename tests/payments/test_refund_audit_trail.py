"""Every refund's audit trail starts with its creation (``None → pending``, the note naming
the refund, the cause what made it), whoever made it: the service's API, the automatic
refund of an overpayment, or a refund made directly at the PSP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from payments.models import Refund, StateChange
from payments.providers.base import ProviderEvent
from tests.conftest import Keys, create_invoice, pay, pay_twice


async def trails(app: Any) -> dict[str, list[tuple[str | None, str, str]]]:
    """Each refund's rows of ``state_changes``: (from, to, cause), in order."""
    async with app.state.db.session() as s:
        refunds = list((await s.execute(select(Refund))).scalars())
        rows = list(
            (
                await s.execute(
                    select(StateChange)
                    .where(col(StateChange.object) == "refund")
                    .order_by(col(StateChange.id))
                )
            ).scalars()
        )
    return {
        r.id: [(c.from_status, c.to_status, c.cause) for c in rows if c.note == r.id]
        for r in refunds
    }


async def test_a_refund_through_the_api_is_audited_from_its_creation(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The control: the API's refund has its creation row."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds", json={"amount": 900}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    assert await trails(app) == {
        r.json()["id"]: [(None, "pending", "api:refund"), ("pending", "succeeded", "api:refund")]
    }


async def test_the_refund_of_an_overpayment_is_audited_from_its_creation(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    ((refund_id, trail),) = (await trails(app)).items()
    assert len(trail) == 1, trail
    (from_status, to_status, cause) = trail[0]
    assert (from_status, to_status) == (None, "pending")
    assert cause.startswith("psp:")  # the event that brought the second success
    await app.state.payments.refunds.retry_due()
    assert [row[:2] for row in (await trails(app))[refund_id]] == [
        (None, "pending"),
        ("pending", "succeeded"),
    ]


async def test_a_refund_made_at_the_psp_is_audited_from_its_creation(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    ppid = r.json()["payments"][0]["provider_payment_id"]
    provider = app.state.payments.provider
    made = await type(provider).refund(provider, ppid, 900, "made-in-the-psp-dashboard")
    event = ProviderEvent(
        id="evt_sim_refund_dashboard",
        provider="simulator",
        type="refund.updated",
        raw_type="refund.updated",
        created=dt.datetime.now(dt.UTC),
        data={"refund_id": made.id, "provider_payment_id": ppid},
    )
    assert await app.state.intake.store(event)
    assert await app.state.applier.process_batch() == 1
    ((_, trail),) = (await trails(app)).items()
    cause = "psp:evt_sim_refund_dashboard"
    assert trail == [(None, "pending", cause), ("pending", "succeeded", cause)]
