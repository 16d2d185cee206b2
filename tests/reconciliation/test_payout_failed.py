"""A payout that fails (the bank refused it: ``payout.failed``): the PSP's balance gets the
money back (Stripe's ``payout_failure`` balance transaction, which the Stripe adapter reads
as a line of kind ``payout`` naming the payout), the ledger reverses the payout's entry,
and the bank books nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from payments.providers.simulator.camt053 import BankAccount, bank_statement
from reconciliation.matching import reconcile
from reconciliation.normalise import payouts_from_lines
from reconciliation.records import PAYOUT, LedgerItem, Payout, PspLine
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import balances, paid_invoice, sim
from tests.reconciliation.months import UTC, found, payout_failed, run, ties
from tests.reconciliation.world import at, build
from tests.test_year_boundaries import Clock

OCT_FIRST, OCT_LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


async def test_a_failed_payout_is_neither_a_payout_mismatch_nor_missing_in_bank(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """A finance officer reconciling October from the PSP sees a ``payout_mismatch`` of
    24.37 EUR ("payout 2437 EUR, ledger 0 EUR") and a ``missing_in_bank`` of 24.37 EUR for
    a payout that failed: the PSP's own lines say it failed (the money is back in its
    balance), the ledger reversed it, the bank received nothing, and both tie-outs are zero.
    The run takes the payout's outgoing line for a payout made and ignores its failure
    line. They should see no discrepancy: nothing was expected at the bank, and the ledger
    agrees with the PSP."""
    clock.set(dt.datetime(2026, 10, 27, 10, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="P", amount=2500)
    clock.set(dt.datetime(2026, 10, 27, 12, tzinfo=UTC))
    (made,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    po = made.payout
    assert po.amount == 2437

    # 28 October: the bank refused the transfer; the PSP's balance has the money back
    failed_at = dt.datetime(2026, 10, 28, 9, tzinfo=UTC)
    clock.set(failed_at)
    await payout_failed(app, po.id, po.amount, failed_at)
    bal = await balances(app)
    assert (bal[("assets:psp:simulator", "EUR")], bal[("assets:bank:main", "EUR")]) == (2437, 0)

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))  # October is reconciled
    # the bank's statement of October: no credit (the transfer never arrived)
    camt = bank_statement(
        [], BankAccount(settings.bank_iban), 0, OCT_FIRST, OCT_LAST,
        now=dt.datetime(2026, 10, 31, 22, tzinfo=UTC),
    )  # fmt: skip
    doc = await run(
        client, keys, OCT_FIRST, OCT_LAST, {"camt053": ("releve.xml", camt, "application/xml")}
    )
    assert ties(doc) == {("psp_clearing", "EUR"): 0, ("bank", "EUR"): 0}, doc["tie_outs"]
    assert found(doc) == [], doc["discrepancies"]


def _failed(day: int = 2, *, ledger_reversed: bool = True):  # type: ignore[no-untyped-def]
    """The little world's payout of ``day`` failed the next day: the PSP's failure line
    names it, the ledger reverses it (unless not), the bank never receives it."""
    w = build([[(2500, 40)], [(5000, 65)], [(1200, 27)]])
    po, net = f"po_{day:03d}", next(p.amount for p in w.payouts if p.id == f"po_{day:03d}")
    when = at(w.payouts[day].arrival_date, 21)
    w.psp.append(PspLine("txn_pofail", PAYOUT, (po,), net, 0, net, "EUR", po, when))
    if ledger_reversed:
        w.ledger.append(LedgerItem("payout", po, net, 0, "EUR", ("ent_pofail",), when))
    w.bank = [b for b in w.bank if po not in b.text]
    w.payouts = payouts_from_lines(w.psp)
    return w, po, net


def test_a_payouts_failure_line_offsets_what_it_announces() -> None:
    w, po, net = _failed()
    assert Payout(po, 0, "EUR", w.payouts[2].arrival_date, returned=net) in w.payouts
    assert [p.returned for p in w.payouts if p.id != po] == [0, 0]


def test_a_failed_payout_is_not_looked_for_at_the_bank() -> None:
    w, _po, _net = _failed()
    r = reconcile(w.inputs())
    assert r.discrepancies == () and len(r.payout_matches) == 2 and r.in_transit == ()


def test_a_failure_the_ledger_did_not_book_is_still_a_payout_mismatch() -> None:
    w, po, net = _failed(ledger_reversed=False)
    (d,) = reconcile(w.inputs()).discrepancies
    assert (d.category, d.payout_id, d.amount, d.key.split("@")[0]) == (
        "payout_mismatch", po, net, f"payout_mismatch:ledger:{po}",
    )  # fmt: skip
