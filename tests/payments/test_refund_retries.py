"""A refund asked again with the same ``Idempotency-Key`` after its first request failed
past the reservation (a 503, a cancelled request): the key replays the reserved refund,
which the sweeper submits under the PSP key made from its id; never a second refund."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from payments.models import Refund
from payments.providers.base import ProviderError
from payments.providers.simulator.models import SimRefund
from payments.service import refund_outcomes
from tests.conftest import Keys, create_invoice, pay

KEY = "refund-PC-2026-0001-a"


async def at_psp(app: Any) -> list[int]:
    async with app.state.db.session() as s:
        return [r.amount for r in (await s.execute(select(SimRefund))).scalars()]


async def refunds(app: Any) -> list[Refund]:
    async with app.state.db.session() as s:
        return list((await s.execute(select(Refund))).scalars())


async def refunded(client: httpx.AsyncClient, key: str, invoice_id: str) -> int:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(key))
    assert r.status_code == 200, r.text
    return int(r.json()["amount_refunded"])


def psp_keys_of(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The idempotency keys the PSP is asked to refund under, from now on."""
    provider = app.state.payments.provider
    real, keys = provider.refund, []

    async def spy(ppid: str, amount: int, key: str, **kw: Any) -> Any:
        keys.append(key)
        return await real(ppid, amount, key, **kw)

    monkeypatch.setattr(provider, "refund", spy)
    return keys


async def test_a_retry_with_the_same_key_after_a_503_replays_the_refund_and_refunds_once(
    app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PSP makes the refund, then regie's database fails while it records the answer:
    503. The service retries the very same request with the same key, as the API invites:
    the citizen is refunded 1000 once (the retry replays the reserved refund)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        inv = await create_invoice(client, keys.urbanisme)
        await pay(client, inv, apply=app)
        real = refund_outcomes.apply_status
        calls: list[str] = []

        async def db_lost_once(*args: Any, **kwargs: Any) -> str:
            calls.append("x")
            if len(calls) == 1:
                raise OperationalError("UPDATE refunds", {}, Exception("connection reset"))
            return await real(*args, **kwargs)

        monkeypatch.setattr(refund_outcomes, "apply_status", db_lost_once)
        headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": KEY})
        url = f"/v1/invoices/{inv['id']}/refunds"
        first = await client.post(url, json={"amount": 1000}, headers=headers)
        assert first.status_code == 503  # the database: "try again"
        await app.state.payments.refunds.retry_due()  # the worker's sweep settles it
        again = await client.post(url, json={"amount": 1000}, headers=headers)
        (row,) = await refunds(app)
        assert (again.status_code, again.headers.get("idempotent-replayed")) == (202, "true")
        assert again.json()["id"] == row.id and row.status == "succeeded"
        assert (await at_psp(app), await refunded(client, keys.urbanisme, inv["id"])) == (
            [1000],
            1000,
        )


async def test_a_retry_with_the_same_key_after_a_cancelled_request_replays_the_refund(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request is cancelled (the client went away) after the refund was reserved, while
    it waits for the PSP: the reservation stays, the sweeper submits it under the PSP key
    made from its id, and the same request again replays it: one refund of 1000."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    reached, never = asyncio.Event(), asyncio.Event()

    async def hanging(*args: Any, **kwargs: Any) -> Any:
        reached.set()
        await never.wait()

    monkeypatch.setattr(app.state.payments.provider, "refund", hanging)
    headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": KEY})
    url = f"/v1/invoices/{inv['id']}/refunds"
    first = asyncio.create_task(client.post(url, json={"amount": 1000}, headers=headers))
    await asyncio.wait_for(reached.wait(), 10)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    monkeypatch.undo()
    psp_keys = psp_keys_of(app, monkeypatch)
    assert await app.state.payments.refunds.retry_due() == 1  # the reservation, recovered
    again = await client.post(url, json={"amount": 1000}, headers=headers)
    (row,) = await refunds(app)
    assert (again.status_code, again.headers.get("idempotent-replayed")) == (202, "true")
    assert again.json()["id"] == row.id and row.status == "succeeded"
    assert psp_keys == [f"regie-refund-{row.id}"]
    assert (await at_psp(app), await refunded(client, keys.urbanisme, inv["id"])) == ([1000], 1000)


async def test_a_refund_the_psp_refused_frees_its_key_for_the_same_request_again(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing was refunded (the refusal is stored on the failed refund): the same request
    with the same key is a new try, not a replay of the reservation's 202."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    provider = app.state.payments.provider

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise ProviderError("invalid_request", "charge already refunded")

    monkeypatch.setattr(provider, "refund", refused)
    headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": KEY})
    url = f"/v1/invoices/{inv['id']}/refunds"
    first = await client.post(url, json={"amount": 1000}, headers=headers)
    assert first.status_code == 502 and first.json()["error"]["code"] == "refund_failed"
    monkeypatch.undo()
    again = await client.post(url, json={"amount": 1000}, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") is None
    assert sorted(r.status for r in await refunds(app)) == ["failed", "succeeded"]
    assert (await at_psp(app), await refunded(client, keys.urbanisme, inv["id"])) == ([1000], 1000)
