"""A payout that fails after its reconciliation posted what ``payout.paid`` had not listed
yet (a shared PSP account): the failure takes back everything that was posted to the bank
for it, not only the ``paid`` entry."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payments import accounting
from payments.providers.base import (
    EVENT_PAYOUT_FAILED,
    EVENT_PAYOUT_RECONCILED,
    SettlementLine,
)
from tests.conftest import Keys, create_invoice, pay
from tests.payments.test_payouts import (
    BANK,
    PSP,
    apply_all,
    balances,
    paid_payment_id,
    payout_event,
)


async def test_a_payout_failed_after_its_reconciliation_leaves_nothing_at_the_bank(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    ppid = await paid_payment_id(client, app, keys)
    sim = app.state.payments.provider
    now = dt.datetime.now(dt.UTC)
    charge = SettlementLine("txn_c", "charge", ppid, 2500, 63, 2437, "EUR", "po_back", now)
    refund = SettlementLine("txn_r", "refund", ppid, -500, 0, -500, "EUR", "po_back", now)
    listed: list[SettlementLine] = [charge]

    async def list_payout_lines(payout_id: str) -> AsyncIterator[SettlementLine]:
        for x in list(listed):
            yield x

    monkeypatch.setattr(sim, "shared_account", True)
    monkeypatch.setattr(sim, "list_payout_lines", list_payout_lines)
    before = await balances(app)
    await apply_all(app, [payout_event("payout.paid", "po_back", 1937)])
    listed.append(refund)
    await apply_all(app, [payout_event("payout.reconciled", "po_back", 1937)])
    assert (await balances(app))[BANK] == 1937
    # the bank returns the payout days later
    await apply_all(app, [payout_event("payout.failed", "po_back", 1937)])
    await apply_all(app, [payout_event("payout.failed", "po_back", 1937)])  # again
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (0, before[PSP])


@pytest.mark.postgres
async def test_a_failure_applied_while_the_reconciliation_commits_still_takes_it_back(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """``payout.reconciliation_completed`` and ``payout.failed`` applied at once by two
    workers: the failure looked for the reconciliation's entry before it was committed,
    found none and reversed only ``paid``; the reconciliation then committed, and its
    amount stayed at the bank of a payout that failed. Each payout's postings now wait for
    one another (a transaction lock per payout)."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    await apply_all(app, [payout_event("payout.paid", "po_race", 1937)])
    data = {"payout_id": "po_race", "amount": 2437, "currency": "EUR"}
    db = app.state.db
    async with db.session() as reconciling:
        # the reconciliation finds 500 more than ``paid`` posted; not committed yet
        done = await accounting.payout(
            reconciling, "simulator", EVENT_PAYOUT_RECONCILED, data, "main", 2437
        )
        assert done == "payout reconciled: +500"

        async def fail() -> str:
            async with db.session() as s:
                outcome = await accounting.payout(
                    s, "simulator", EVENT_PAYOUT_FAILED, data, "main", 2437
                )
                await s.commit()
                return outcome

        failing = asyncio.create_task(fail())
        await asyncio.sleep(0.5)  # the failure runs (or waits) meanwhile
        await reconciling.commit()
    await failing
    bal = await balances(app)
    assert bal[BANK] == 0  # nothing of the failed payout at the bank


async def test_a_failure_whose_lines_are_no_longer_listed_still_reverses_the_payout(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    """On a shared account the failure's amount is read again from the payout's lines; when
    the PSP lists none of regie's any more (the failed payout's transactions went back to
    the balance), the failure was "ignored: the payout carries nothing of regie's" and
    the ``paid`` entry stayed: money at the bank that never arrived. What ``paid`` posted
    is reversed whatever the failure's lines say."""
    ppid = await paid_payment_id(client, app, keys)
    sim = app.state.payments.provider
    now = dt.datetime.now(dt.UTC)
    listed = [SettlementLine("txn_c", "charge", ppid, 2500, 63, 2437, "EUR", "po_gone", now)]

    async def list_payout_lines(payout_id: str) -> AsyncIterator[SettlementLine]:
        for x in list(listed):
            yield x

    monkeypatch.setattr(sim, "shared_account", True)
    monkeypatch.setattr(sim, "list_payout_lines", list_payout_lines)
    before = await balances(app)
    await apply_all(app, [payout_event("payout.paid", "po_gone", 2437)])
    assert (await balances(app))[BANK] == 2437
    listed.clear()
    await apply_all(app, [payout_event("payout.failed", "po_gone", 2437)])
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (0, before[PSP])
