"""A failed payout's money paid out again, on a shared PSP account: when a payout fails,
Stripe gives its money back to the balance (a ``payout_failure`` balance transaction whose
source is the failed payout), and the next payout carries that line. Of it, regie's is
what regie had posted for the failed payout and took back at its failure: the next payout
posts it to the bank with regie's new lines, or it stays on ``assets:psp`` for ever while
the bank has received it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx

from payments.providers.base import SettlementLine
from tests.conftest import Keys
from tests.payments.test_payouts import (
    BANK,
    PSP,
    apply_all,
    balances,
    paid_payment_id,
    payout_event,
)


async def test_the_money_of_a_failed_payout_reaches_the_bank_with_the_next_payout(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    ppid = await paid_payment_id(client, app, keys)
    sim = app.state.payments.provider
    now = dt.datetime.now(dt.UTC)
    lines = {
        # regie's charge and another integration's, paid out by po_A
        "po_A": [
            SettlementLine("txn_c", "charge", ppid, 2500, 63, 2437, "EUR", "po_A", now),
            SettlementLine("txn_o", "charge", "pi_other", 1000, 0, 1000, "EUR", "po_A", now),
            SettlementLine(
                "txn_pa", "payout", None, -3437, 0, -3437, "EUR", "po_A", now, source_id="po_A"
            ),
        ],
        # po_A failed: its money came back (source po_A) and po_B pays it out again
        "po_B": [
            SettlementLine(
                "txn_f", "payout", None, 3437, 0, 3437, "EUR", "po_B", now,
                reporting_category="payout_reversal", source_id="po_A",
            ),
            SettlementLine(
                "txn_pb", "payout", None, -3437, 0, -3437, "EUR", "po_B", now, source_id="po_B"
            ),
        ],
    }  # fmt: skip

    async def list_payout_lines(payout_id: str) -> AsyncIterator[SettlementLine]:
        for x in lines[payout_id]:
            yield x

    monkeypatch.setattr(sim, "shared_account", True)
    monkeypatch.setattr(sim, "list_payout_lines", list_payout_lines)
    psp_before = (await balances(app))[PSP]
    await apply_all(app, [payout_event("payout.paid", "po_A", 3437)])
    assert (await balances(app))[BANK] == 2437  # regie's share only
    await apply_all(app, [payout_event("payout.failed", "po_A", 3437)])
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (0, psp_before)
    await apply_all(app, [payout_event("payout.paid", "po_B", 3437)])
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (2437, psp_before - 2437)
    # delivered twice, and its reconciliation (the same lines): nothing more
    await apply_all(app, [payout_event("payout.paid", "po_B", 3437)])
    await apply_all(app, [payout_event("payout.reconciled", "po_B", 3437)])
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (2437, psp_before - 2437)
