"""Payouts: a failure reverses only what was posted, in either order; on a shared PSP
account only regie's own balance transactions in a payout are posted."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from payments.providers.base import ProviderEvent, SettlementLine
from tests.conftest import Keys, create_invoice, pay
from webhooks.inbound.models import InboxEvent

_ids = itertools.count(1)


def payout_event(etype: str, payout_id: str = "po_test", amount: int = 2437) -> ProviderEvent:
    return ProviderEvent(
        id=f"evt_po_{next(_ids)}",
        provider="simulator",
        type=etype,
        raw_type=etype,
        created=dt.datetime.now(dt.UTC),
        data={"payout_id": payout_id, "amount": amount, "currency": "EUR"},
    )


async def paid_payment_id(client: httpx.AsyncClient, app: Any, keys: Keys, **invoice: Any) -> str:
    """An invoice of urbanisme paid: its payment's PSP id."""
    inv = await create_invoice(client, keys.urbanisme, **invoice)
    await pay(client, inv, apply=app)
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    return str(doc["payments"][0]["provider_payment_id"])


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


async def apply_all(app: Any, events: list[ProviderEvent]) -> None:
    for ev in events:
        assert await app.state.intake.store(ev)
        await app.state.applier.process_batch()


BANK, PSP = ("assets:bank:main", "EUR"), ("assets:psp:simulator", "EUR")


def payout_line(
    lid: str, kind: str, ref: str | None, net: int, payout: str, *,
    fee: int | None = None, source: str | None = None,
) -> SettlementLine:  # fmt: skip
    """A settlement line of ``payout``: a charge's fee is 63 unless given, the others' 0."""
    fee = (63 if kind == "charge" else 0) if fee is None else fee
    now = dt.datetime.now(dt.UTC)
    return SettlementLine(lid, kind, ref, net + fee, fee, net, "EUR", payout, now, source_id=source)


def shared_account(monkeypatch: Any, app: Any, lines: dict[str, list[SettlementLine]]) -> list[str]:
    """The simulator as a Stripe account shared with other integrations, listing each
    payout's ``lines`` as they are when asked; the payouts asked, in order."""
    asked: list[str] = []

    async def list_payout_lines(payout_id: str) -> AsyncIterator[SettlementLine]:
        asked.append(payout_id)
        for x in list(lines[payout_id]):
            yield x

    sim = app.state.payments.provider
    monkeypatch.setattr(sim, "shared_account", True)
    monkeypatch.setattr(sim, "list_payout_lines", list_payout_lines)
    return asked


async def test_a_failure_without_a_posted_paid_moves_no_money(app: Any) -> None:
    await apply_all(app, [payout_event("payout.failed")])
    bal = await balances(app)
    assert bal.get(BANK, 0) == 0 and bal.get(PSP, 0) == 0


@pytest.mark.parametrize(
    "order", [("payout.paid", "payout.failed"), ("payout.failed", "payout.paid")]
)
async def test_paid_and_failed_in_either_order_end_with_the_money_at_the_psp(
    app: Any, order: tuple[str, str]
) -> None:
    await apply_all(app, [payout_event(t) for t in order])
    await apply_all(app, [payout_event("payout.failed"), payout_event("payout.paid")])  # again
    bal = await balances(app)
    assert bal.get(BANK, 0) == 0 and bal.get(PSP, 0) == 0


async def test_on_a_shared_account_only_regies_lines_of_a_payout_are_posted(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    ppid = await paid_payment_id(client, app, keys)
    asked = shared_account(monkeypatch, app, {"po_shared": [
        payout_line("txn_1", "charge", ppid, 2437, "po_shared"),  # regie's
        payout_line("txn_2", "charge", "pi_someone_else", 8850, "po_shared", fee=150),  # another's
        payout_line("txn_3", "fee", None, -200, "po_shared"),  # the account's own fees: not regie's
        payout_line("txn_4", "payout", None, -11087, "po_shared"),
    ]})  # fmt: skip
    before = await balances(app)
    await apply_all(app, [payout_event("payout.paid", "po_shared", 11087)])
    assert asked == ["po_shared"]
    bal = await balances(app)
    assert bal[BANK] == 2437  # regie's charge net of its fee, not the whole 11087
    assert bal[PSP] == before[PSP] - 2437 == 0
    await apply_all(app, [payout_event("payout.failed", "po_shared", 11087)])
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (0, 2437)


async def test_the_reconciliation_posts_what_paid_had_not_listed_yet(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    """At ``payout.paid`` Stripe may list only part of the payout's transactions; when its
    reconciliation completes, the difference of regie's share is posted, once."""
    ppid = await paid_payment_id(client, app, keys)
    listed = [payout_line("txn_c", "charge", ppid, 2437, "po_rec")]
    shared_account(monkeypatch, app, {"po_rec": listed})
    await apply_all(app, [payout_event("payout.paid", "po_rec", 1937)])
    assert (await balances(app))[BANK] == 2437
    listed.append(payout_line("txn_r", "refund", ppid, -500, "po_rec"))
    await apply_all(app, [payout_event("payout.reconciled", "po_rec", 1937)])
    await apply_all(app, [payout_event("payout.reconciled", "po_rec", 1937)])  # again
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (1937, 2437 - 1937)


@pytest.mark.parametrize("late", [False, True], ids=["in-order", "failure-applied-last"])
async def test_a_failed_payouts_money_reaches_the_bank_with_the_next_payout_in_any_order(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any, late: bool
) -> None:
    """po_1 (regie's 2437) is paid, then refused by the bank: Stripe gives its money back to
    the balance (a ``payout_failure`` line whose source is po_1) and po_2 pays it out again.
    Whatever order the events are applied in (po_1's failure dead-lettered and re-queued
    after po_2's events, say), the books end with that money in the bank, not at the PSP:
    po_2 waits for po_1's failure, whose reversal is what po_2 carries back."""
    ppid = await paid_payment_id(client, app, keys)
    shared_account(monkeypatch, app, {
        "po_1": [payout_line("txn_c", "charge", ppid, 2437, "po_1", source="ch_1"),
                 payout_line("txn_p1", "payout", None, -2437, "po_1", source="po_1")],
        # po_1's money back in the balance (source: po_1), paid out again by po_2
        "po_2": [payout_line("txn_f", "payout", None, 2437, "po_2", source="po_1"),
                 payout_line("txn_p2", "payout", None, -2437, "po_2", source="po_2")],
    })  # fmt: skip
    await apply_all(app, [payout_event("payout.paid", "po_1", 2437)])
    failed = payout_event("payout.failed", "po_1", 2437)
    second = [payout_event(t, "po_2", 2437) for t in ("payout.paid", "payout.reconciled")]
    await apply_all(app, second + [failed] if late else [failed, *second])
    async with app.state.db.session() as s:  # what waited is tried again
        await s.execute(update(InboxEvent).values(next_attempt_at=dt.datetime.now(dt.UTC)))
        await s.commit()
    while await app.state.applier.process_batch():
        pass
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (2437, 0)
    async with app.state.db.session() as s:
        rows = (await s.execute(select(InboxEvent.status))).scalars().all()
    assert "pending" not in rows and "dead" not in rows


@pytest.mark.parametrize(
    "reconciled_first", [True, False], ids=["reconciled-first", "failed-first"]
)
async def test_a_payout_that_fails_before_its_reconciliation_gives_back_all_of_regies_share(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any, reconciled_first: bool
) -> None:
    """po_1 carries two of regie's payments, but at ``payout.paid`` Stripe lists only the
    first (its reconciliation is not complete). The bank refuses po_1, and po_2 pays all of
    its money out again. Whether po_1's failure comes after its reconciliation or before
    (its ``reconciliation_completed`` late), the failure is what po_1's full listing says:
    both payments' money goes back to the PSP, and reaches the bank with po_2."""
    first = await paid_payment_id(client, app, keys, reference="PO-1")
    second = await paid_payment_id(client, app, keys, reference="PO-2")
    full = [payout_line("txn_c1", "charge", first, 2437, "po_1", source="ch_1"),
            payout_line("txn_c2", "charge", second, 2437, "po_1", source="ch_2"),
            payout_line("txn_p1", "payout", None, -4874, "po_1", source="po_1")]  # fmt: skip
    lines = {
        "po_1": [full[0]],  # at payout.paid: only part of it listed yet
        "po_2": [payout_line("txn_f", "payout", None, 4874, "po_2", source="po_1"),
                 payout_line("txn_p2", "payout", None, -4874, "po_2", source="po_2")],
    }  # fmt: skip
    shared_account(monkeypatch, app, lines)
    await apply_all(app, [payout_event("payout.paid", "po_1", 4874)])
    assert (await balances(app))[BANK] == 2437
    lines["po_1"] = full
    reconciled = payout_event("payout.reconciled", "po_1", 4874)
    failed = payout_event("payout.failed", "po_1", 4874)
    await apply_all(app, [reconciled, failed] if reconciled_first else [failed, reconciled])
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (0, 4874)  # all of po_1's money back at the PSP
    await apply_all(app, [payout_event("payout.paid", "po_2", 4874)])
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (4874, 0)
