"""A negative payout: a day whose refunds and disputes exceed its charges makes Stripe pay
out a negative amount, which it takes from the bank account (a debit there). The ledger
moves that money from the bank back to the PSP's clearing account, once; a failure (the
bank refused the debit) reverses it as it reverses a positive payout, in either order; on
a shared account regie's negative share is posted, and the reconciliation's difference in
either sign."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from ledger import repository as ledger_repo
from ledger.models import JournalEntry
from payments.providers.base import SettlementLine
from tests.conftest import Keys, create_invoice, pay
from tests.payments.test_payouts import BANK, PSP, apply_all, balances, payout_event
from webhooks.inbound.models import InboxEvent


async def postings(app: Any, source_key: str) -> list[tuple[str, int, int]]:
    """The lines of the entry posted under ``source_key``: (account, debit, credit)."""
    async with app.state.db.session() as s:
        entry = await ledger_repo.entry_by_source(s, source_key)
        if entry is None:
            return []
        lines = (await ledger_repo.lines_of(s, [entry.id]))[entry.id]
    return sorted((x.account, x.debit, x.credit) for x in lines)


async def entry(app: Any, source_key: str) -> JournalEntry:
    async with app.state.db.session() as s:
        found = await ledger_repo.entry_by_source(s, source_key)
    assert found is not None, f"nothing posted under {source_key}"
    return found


async def outcomes(app: Any) -> list[str]:
    async with app.state.db.session() as s:
        rows = await s.execute(select(col(InboxEvent.outcome)))
        return sorted(str(o) for (o,) in rows.all())


async def test_a_negative_payout_moves_the_money_from_the_bank_to_the_psp_once(
    app: Any,
) -> None:
    await apply_all(app, [payout_event("payout.paid", "po_neg", -2030)])
    assert await postings(app, "payout:po_neg:paid") == [
        ("assets:bank:main", 0, 2030),
        ("assets:psp:simulator", 2030, 0),
    ]
    paid = await entry(app, "payout:po_neg:paid")
    assert (paid.kind, paid.description) == ("payout_paid", "negative payout po_neg")
    await apply_all(app, [payout_event("payout.paid", "po_neg", -2030)])  # delivered again
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (-2030, 2030)
    assert await outcomes(app) == ["payout paid", "unchanged: payout already posted"]


@pytest.mark.parametrize(
    "order", [("payout.paid", "payout.failed"), ("payout.failed", "payout.paid")]
)
async def test_a_negative_payout_that_fails_leaves_the_money_at_the_bank(
    app: Any, order: tuple[str, str]
) -> None:
    await apply_all(app, [payout_event(t, "po_neg", -2030) for t in order])
    await apply_all(app, [payout_event(t, "po_neg", -2030) for t in order])  # again
    bal = await balances(app)
    assert (bal.get(BANK, 0), bal.get(PSP, 0)) == (0, 0)
    # the failure is the paid entry's reversal: money back from the PSP to the bank
    assert await postings(app, "payout:po_neg:failed") == [
        ("assets:bank:main", 2030, 0),
        ("assets:psp:simulator", 0, 2030),
    ]
    failed, paid = await entry(app, "payout:po_neg:failed"), await entry(app, "payout:po_neg:paid")
    assert (failed.kind, failed.reverses_id) == ("payout_failed", paid.id)


def _line(lid: str, kind: str, ref: str | None, amount: int, fee: int = 0) -> SettlementLine:
    now = dt.datetime.now(dt.UTC)
    return SettlementLine(lid, kind, ref, amount, fee, amount - fee, "EUR", "po_shared", now)


@pytest.mark.parametrize(
    ("at_paid", "at_reconciled", "banked"),
    [
        # regie's refund alone when paid, its charge listed too when reconciled: +2437
        (["refund"], ["refund", "charge"], (-2500, 2437 - 2500)),
        # its charge alone when paid, its refund too when reconciled: -2500
        (["charge"], ["charge", "refund"], (2437, 2437 - 2500)),
        # nothing of regie's when paid (nothing posted), its refund when reconciled
        ([], ["refund"], (0, -2500)),
    ],
)
async def test_on_a_shared_account_a_negative_share_and_its_difference_are_posted(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    monkeypatch: Any,
    at_paid: list[str],
    at_reconciled: list[str],
    banked: tuple[int, int],
) -> None:
    inv = await create_invoice(client, keys.urbanisme, amount=2500)
    await pay(client, inv, apply=app)
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    ppid = doc["payments"][0]["provider_payment_id"]
    regies = {
        "charge": _line("txn_c", "charge", ppid, 2500, 63),
        "refund": _line("txn_r", "refund", ppid, -2500),
    }
    others = [_line("txn_o", "charge", "pi_someone_else", 9000, 150)]  # never regie's
    listed = [regies[k] for k in at_paid]

    async def list_payout_lines(payout_id: str) -> AsyncIterator[SettlementLine]:
        for x in [*listed, *others]:
            yield x

    sim = app.state.payments.provider
    monkeypatch.setattr(sim, "shared_account", True)
    monkeypatch.setattr(sim, "list_payout_lines", list_payout_lines)
    before = await balances(app)
    await apply_all(app, [payout_event("payout.paid", "po_shared", 5000)])
    bal = await balances(app)
    assert (bal.get(BANK, 0), bal[PSP] - before[PSP]) == (banked[0], -banked[0])
    listed[:] = [regies[k] for k in at_reconciled]
    for _ in range(2):  # a reconciliation delivered twice posts its difference once
        await apply_all(app, [payout_event("payout.reconciled", "po_shared", 5000)])
        bal = await balances(app)
        assert (bal[BANK], bal[PSP] - before[PSP]) == (banked[1], -banked[1])
    # the bank refuses it: what was posted for it is all taken back
    await apply_all(app, [payout_event("payout.failed", "po_shared", 5000)])
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (0, before[PSP])
