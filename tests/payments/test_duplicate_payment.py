"""Paying twice through a stale card page (issue 11, "Money"), on the simulator.

When an invoice becomes paid, the worker closes at the PSP every other checkout still open
for it, so a second tab's card page refuses the card; a PSP that does not answer is asked
again later. A duplicate that still gets through (its page was completed first) is an
overpayment, refunded, and its return page says so, and when the money comes back.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from typing import Any

import httpx
from sqlalchemy import select, update

from payments.models import Payment, Refund, StateChange
from payments.providers.base import ProviderError
from payments.providers.simulator.models import SimCheckout
from payments.service.closing import CLOSE_RETRY
from regie.composition import build_worker
from regie.kit.tenancy import set_contact
from regie.kit.web import format_date
from tests.conftest import (
    BASE_URL,
    Keys,
    create_invoice,
    start_checkout,
    token_of,
    two_checkouts_at_once,
)

CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"}


async def run_worker_drains(app: Any) -> None:
    """What the worker does on every tick before its periodic jobs: its drains (the PSP
    events received, and whatever else the packages register to run each tick)."""
    worker = build_worker(app.state.settings, app.state.services)
    for drain in worker.drains:
        await drain(20)


async def payments_of(client: httpx.AsyncClient, keys: Keys, inv: dict[str, Any]) -> list[Any]:
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    return r.json()["payments"]  # type: ignore[no-any-return]


async def canceled_rows(app: Any, payment_id: str) -> list[StateChange]:
    async with app.state.db.session() as s:
        stmt = select(StateChange).where(
            StateChange.payment_id == payment_id, StateChange.to_status == "canceled"
        )
        return list((await s.execute(stmt)).scalars())


async def checkout_status(app: Any, path: str) -> str:
    async with app.state.db.session() as s:
        cs = await s.get(SimCheckout, path.rsplit("/", 1)[1])
        assert cs is not None
        return cs.status


async def time_passes(app: Any, payment_id: str) -> None:
    """The retry's time has come (the drain postpones a failed closing)."""
    async with app.state.db.session() as s:
        await s.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(close_checkout_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await s.commit()


async def test_paying_in_one_tab_closes_the_other_tabs_card_page(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    first, second = await two_checkouts_at_once(client, app, inv)  # two tabs, both open
    r = await client.post(first, data=CARD)
    assert r.status_code == 303
    await run_worker_drains(app)  # the event pays the invoice
    await run_worker_drains(app)  # (next tick)

    assert await checkout_status(app, second) == "canceled"  # closed at the PSP
    refused = await client.post(second, data=CARD)
    assert refused.status_code == 303  # the stale page takes no card, and says so on a GET
    assert refused.headers["location"] == second
    refused = await client.get(second)
    assert "Cette session de paiement est terminée" in refused.text
    assert "Aucune somme n'a été prélevée sur cette page." in html.unescape(refused.text)

    paid, other = sorted(
        await payments_of(client, keys, inv), key=lambda p: p["status"] != "succeeded"
    )
    assert (paid["status"], other["status"]) == ("succeeded", "canceled")
    (row,) = await canceled_rows(app, other["id"])
    assert row.cause == "sweeper:close-checkout"
    assert row.note and paid["id"] in row.note  # why: the invoice was paid by that payment
    async with app.state.db.session() as s:
        assert (await s.execute(select(Refund))).all() == []  # nothing to give back


async def test_a_psp_that_does_not_answer_is_asked_again_later(
    client, app, keys: Keys, monkeypatch
) -> None:
    sim = app.state.payments.provider
    real = sim.cancel_checkout
    asked: list[str] = []

    async def down_once(checkout_id: str) -> bool:
        asked.append(checkout_id)
        if len(asked) == 1:
            raise ProviderError("unavailable", "connection reset", retryable=True)
        return await real(checkout_id)

    monkeypatch.setattr(sim, "cancel_checkout", down_once)
    inv = await create_invoice(client, keys.urbanisme)
    first, second = await two_checkouts_at_once(client, app, inv)
    await client.post(first, data=CARD)
    await run_worker_drains(app)
    await run_worker_drains(app)
    assert len(asked) == 1  # tried once, failed
    assert await checkout_status(app, second) == "open"
    stale = next(p for p in await payments_of(client, keys, inv) if p["status"] != "succeeded")
    assert stale["status"] == "pending"  # not canceled while its page may still take a card
    async with app.state.db.session() as s:
        row = await s.get(Payment, stale["id"])
        assert row is not None and row.close_checkout_at is not None
    # asked again after the first retry delay (10 s), not after the 2-minute lease
    assert row.close_checkout_at - dt.datetime.now(dt.UTC) <= CLOSE_RETRY[0]

    await run_worker_drains(app)
    assert len(asked) == 1  # not hammered: postponed

    await time_passes(app, stale["id"])
    await run_worker_drains(app)
    assert len(asked) == 2 and asked[0] == asked[1]
    assert await checkout_status(app, second) == "canceled"
    assert (await client.post(second, data=CARD)).headers["location"] == second  # no card
    assert [p["status"] for p in await payments_of(client, keys, inv)].count("canceled") == 1
    assert len(await canceled_rows(app, stale["id"])) == 1

    await time_passes(app, stale["id"])  # (a leftover mark would be a second attempt)
    await run_worker_drains(app)
    assert len(asked) == 2


async def test_a_closing_that_breaks_is_logged_with_its_payment_and_left_for_later(
    client, app, keys: Keys, monkeypatch, caplog
) -> None:
    async def broken(checkout_id: str) -> bool:
        raise RuntimeError("a bug in the PSP adapter")

    monkeypatch.setattr(app.state.payments.provider, "cancel_checkout", broken)
    inv = await create_invoice(client, keys.urbanisme)
    first, second = await two_checkouts_at_once(client, app, inv)
    await client.post(first, data=CARD)
    await run_worker_drains(app)  # the event pays the invoice
    caplog.set_level(logging.ERROR, logger="regie.payments")
    await run_worker_drains(app)  # the closing breaks: the drain goes on
    stale = next(p for p in await payments_of(client, keys, inv) if p["status"] != "succeeded")
    assert stale["status"] == "pending"
    # what an operator greps: the message, the payment, and the traceback
    (record,) = [
        r for r in caplog.records if r.name == "regie.payments" and r.levelno >= logging.ERROR
    ]
    assert record.getMessage() == "closing a checkout failed"
    assert record.payment == stale["id"]  # type: ignore[attr-defined]
    assert record.exc_info and record.exc_info[0] is RuntimeError
    assert await checkout_status(app, second) == "open"
    async with app.state.db.session() as s:
        row = await s.get(Payment, stale["id"])
        assert row is not None and row.close_checkout_at is not None  # asked again later


async def test_a_card_page_opened_while_the_invoice_was_being_paid_is_closed_too(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    sim = app.state.payments.provider
    real = sim.create_checkout
    once: list[bool] = []

    async def the_other_tab_pays_meanwhile(*args: Any) -> Any:
        if not once:
            once.append(True)
            _, path = await start_checkout(client, inv)  # (its own checkout: the real one)
            assert (await client.post(path, data=CARD)).status_code == 303
            await app.state.applier.process_batch()  # the invoice is paid
        return await real(*args)

    sim.create_checkout = the_other_tab_pays_meanwhile
    try:
        r = await client.post(f"/pay/{token_of(inv)}/checkout")
    finally:
        del sim.create_checkout
    # not sent to a card page of a paid invoice: the pay page says it is paid
    assert r.status_code == 303 and r.headers["location"] == f"/pay/{token_of(inv)}?lang=fr"
    assert "Cette facture est déjà payée" in (await client.get(r.headers["location"])).text
    await run_worker_drains(app)
    async with app.state.db.session() as s:
        late = (await s.execute(select(Payment).where(Payment.status != "succeeded"))).scalar_one()
        assert late.checkout_id is not None
        assert (await s.get(SimCheckout, late.checkout_id)).status == "canceled"
    assert late.status == "canceled"
    assert len(await canceled_rows(app, late.id)) == 1


async def _a_duplicate_gets_through(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> tuple[dict[str, Any], str]:
    """The second tab's card is taken before the worker could close its page: the closing
    finds it completed, and the payment is what the PSP says (an overpayment)."""
    inv = await create_invoice(client, keys.urbanisme)
    first, second = await two_checkouts_at_once(client, app, inv)
    assert (await client.post(first, data=CARD)).status_code == 303
    await app.state.applier.process_batch()  # the first pays the invoice
    r = await client.post(second, data=CARD)  # before any closing
    assert r.status_code == 303
    back = r.headers["location"].removeprefix(BASE_URL)
    await run_worker_drains(app)
    await run_worker_drains(app)
    pays = await payments_of(client, keys, inv)
    assert sorted((p["status"], p["is_overpayment"]) for p in pays) == [
        ("succeeded", False),
        ("succeeded", True),
    ]
    async with app.state.db.session() as s:
        (refund,) = (await s.execute(select(Refund))).scalars().all()
    assert (refund.origin, refund.status) == ("overpayment", "pending")
    return inv, back


async def test_a_duplicates_return_page_says_it_is_being_refunded_and_when(
    client, app, keys: Keys
) -> None:
    inv, back = await _a_duplicate_gets_through(client, app, keys)
    page = await client.get(back)
    assert page.status_code == 200
    assert "Paiement accepté" not in page.text
    assert "Paiement en double" in page.text
    assert "Cette facture était déjà payée" in page.text
    assert "Ce second paiement de 25,00\u00a0€ vous est remboursé en totalité" in page.text
    assert "5 à 10 jours ouvrés" in page.text
    assert "Le remboursement est en cours" in page.text
    assert f'href="/pay/{token_of(inv)}/receipt' in page.text  # the bill's receipt

    english = await client.get(back + "&lang=en")
    assert "Duplicate payment" in english.text and "Payment received" not in english.text
    assert "This bill had already been paid" in english.text
    assert "This second payment of €25.00 is refunded to you in full" in english.text
    assert "5 to 10 business days" in english.text

    assert await app.state.payments.refunds.retry_due() == 1  # the PSP refunds it
    page = await client.get(back + "&lang=fr")
    now = dt.datetime.now(dt.UTC)
    assert "Le remboursement est en cours" not in page.text
    assert f"Remboursé le {format_date(now, 'fr')}" in page.text
    assert "5 à 10 jours ouvrés" in page.text  # when it shows on the account
    english = await client.get(back + "&lang=en")
    assert f"Refunded on {format_date(now, 'en')}" in english.text


async def test_a_duplicate_whose_refund_failed_says_whom_to_contact(
    client, app, keys: Keys, monkeypatch
) -> None:
    async with app.state.db.session() as s:
        await set_contact(s, "urbanisme", email="urbanisme@villeneuve.fr", phone="05 61 00 00 00")
        await s.commit()
    inv, back = await _a_duplicate_gets_through(client, app, keys)

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise ProviderError("invalid_request", "card closed")

    monkeypatch.setattr(app.state.payments.provider, "refund", refused)
    await app.state.payments.refunds.retry_due()
    text = html.unescape((await client.get(back + "&lang=fr")).text)
    assert "Paiement en double" in text
    assert "Le remboursement automatique n'a pas abouti. Contactez Mairie – Urbanisme" in text
    assert "Le remboursement est en cours" not in text
    # … and how: the service's contact details, as on the pages of a link that expired
    assert 'href="mailto:urbanisme@villeneuve.fr"' in text
    assert 'href="tel:+33561000000"' in text


async def test_the_first_payments_return_page_still_says_accepted(client, app, keys: Keys) -> None:
    inv, back = await _a_duplicate_gets_through(client, app, keys)
    first = next(p for p in await payments_of(client, keys, inv) if not p["is_overpayment"])
    page = await client.get(f"/pay/{token_of(inv)}/return?payment={first['id']}")
    assert "Paiement accepté" in page.text and "Paiement en double" not in page.text
