"""A payout the bank credits and then returns (an R-transaction: the credit, then a debit
reversing it, ``RvslInd`` true, both naming the payout), which the PSP reports failed: the
PSP has the money back (its ``payout_failure`` line) and the ledger books the payout into
the bank and out of it again. Both bank entries are explained by that payout and its
failure: nothing arrived unexplained."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx

from reconciliation.matching import reconcile
from reconciliation.records import PAYOUT, BankLine, LedgerItem, PspLine
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.camt_builder import E, S, camt
from tests.reconciliation.months import NOV_FIRST, NOV_LAST, UTC, found, payout_failed, run, ties
from tests.reconciliation.test_payout_paid_next_month import _payout_paid_next_month
from tests.reconciliation.world import START, at, build
from tests.test_year_boundaries import Clock


def _returned(text: str = "RETOUR VIREMENT po_000") -> tuple[Any, list[BankLine]]:
    """October's first payout (9.70 EUR, credited on the 2nd) fails on the 6th: the PSP's
    failure line, the ledger's reversal, and the bank's return of the credit."""
    w = build([[(1000, 30)], [(2000, 60)]])
    po = w.payouts[0]
    w.payouts[0] = dataclasses.replace(po, amount=0, returned=po.amount)
    failed = at(dt.date(2026, 10, 6))
    w.psp.append(
        PspLine(
            "txn_fail0",
            PAYOUT,
            ("po_000",),
            po.amount,
            0,
            po.amount,
            "EUR",
            "po_000",
            failed,
            way=1,
        )  # fmt: skip
    )
    w.ledger.append(LedgerItem("payout", "po_000", po.amount, 0, "EUR", ("ent_fail0",), failed, way=1))  # fmt: skip
    back = BankLine("BANKRET0", po.amount, "debit", "EUR", dt.date(2026, 10, 6), text)
    w.bank.append(back)
    return w, [w.bank[0], back]


def test_a_payout_credited_then_returned_by_the_bank_leaves_nothing_unexplained() -> None:
    w, (credit, back) = _returned()
    r = reconcile(w.inputs())
    assert r.discrepancies == (), r.discrepancies
    assert r.suggestions == ()
    assert (("po_000",), (credit.reference, back.reference)) in r.payout_matches


def test_a_return_naming_another_payout_is_not_this_ones() -> None:
    """Only what names the failed payout is its own: a debit of the same amount naming
    nothing stays an unexpected debit for a human to explain."""
    w, (_credit, back) = _returned(text="PRELEVEMENT URSSAF")
    r = reconcile(w.inputs())
    assert [(d.category, d.amount) for d in r.discrepancies] == [
        ("unexpected_bank_credit", 970),
        ("unexpected_bank_debit", 970),
    ]


def test_the_return_alone_when_the_credit_was_the_month_befores() -> None:
    """The credit was September's (matched in its run); October has the failure and the
    bank's return, which names the payout."""
    w, (credit, back) = _returned()
    w.bank.remove(credit)
    w.payouts[0] = dataclasses.replace(w.payouts[0], arrival_date=START - dt.timedelta(days=2))
    r = reconcile(w.inputs())
    assert r.discrepancies == (), r.discrepancies
    assert (("po_000",), (back.reference,)) in r.payout_matches


async def test_a_returned_payout_through_the_api(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The payout of Friday 30 October, credited on Monday 2 November, returned by the bank
    on the 4th (``RvslInd`` true) as the PSP reports it failed: November's run finds
    nothing, the tie-outs agree."""
    po = await _payout_paid_next_month(app, client, keys, clock)
    failed_at = dt.datetime(2026, 11, 4, 9, tzinfo=UTC)
    clock.set(failed_at)
    await payout_failed(app, po, 2437, failed_at)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    entries = [
        E("24.37", day="2026-11-02", servicer_ref="C1", text=f"VIR STRIPE {po}"),
        E("24.37", direction="DBIT", day="2026-11-04", servicer_ref="R1", text=f"RETOUR {po}"),
    ]
    statement = S(iban=settings.bank_iban, day="2026-11-19", entries=entries)
    xml = camt(statement).replace(
        b"<CdtDbtInd>DBIT</CdtDbtInd><Sts>",
        b"<CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd><Sts>",
    )
    assert b"<RvslInd>true</RvslInd>" in xml
    doc = await run(
        client, keys, NOV_FIRST, NOV_LAST, {"camt053": ("releve.xml", xml, "application/xml")}
    )
    assert found(doc) == [], doc["discrepancies"]
    assert ties(doc) == {("psp_clearing", "EUR"): 0, ("bank", "EUR"): 0}, doc["tie_outs"]


async def test_a_return_naming_nothing_but_marked_a_reversal(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The same, the bank writing no payout id (its credit says "VIR STRIPE", its return
    "RETOUR VIREMENT"), the return marked a reversal (``RvslInd`` true): the one credit of
    that amount before it, which no payout took, is the failed payout's, and the return
    its failure's. A debit of that amount not marked a reversal stays unexpected."""
    po = await _payout_paid_next_month(app, client, keys, clock)
    failed_at = dt.datetime(2026, 11, 4, 9, tzinfo=UTC)
    clock.set(failed_at)
    await payout_failed(app, po, 2437, failed_at)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    entries = [
        E("24.37", day="2026-11-02", servicer_ref="C1", text="VIR STRIPE"),
        E("24.37", direction="DBIT", day="2026-11-04", servicer_ref="R1", text="RETOUR VIREMENT"),
    ]
    statement = S(iban=settings.bank_iban, day="2026-11-19", entries=entries)
    plain = camt(statement)
    xml = plain.replace(
        b"<CdtDbtInd>DBIT</CdtDbtInd><Sts>",
        b"<CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd><Sts>",
    )
    doc = await run(
        client, keys, NOV_FIRST, NOV_LAST, {"camt053": ("releve.xml", xml, "application/xml")}
    )
    assert found(doc) == [], doc["discrepancies"]
    assert doc["summary"]["payouts_matched"] == 1


def test_an_unnamed_debit_not_marked_a_reversal_stays_unexpected() -> None:
    w, (credit, back) = _returned(text="RETOUR VIREMENT")
    w.bank[0] = dataclasses.replace(credit, text="VIR STRIPE")
    r = reconcile(w.inputs())
    assert [(d.category, d.amount) for d in r.discrepancies] == [
        ("unexpected_bank_credit", 970),
        ("unexpected_bank_debit", 970),
    ]


def test_an_unnamed_reversal_takes_the_credit_only_near_the_payouts_day() -> None:
    """Naming nothing, the return marked a reversal takes the one credit of its amount near
    the day the payout was due; a credit of that amount weeks before is not taken for it."""
    for credit_day, taken in ((dt.date(2026, 10, 2), True), (dt.date(2026, 9, 14), False)):
        w, (credit, back) = _returned(text="RETOUR VIREMENT")
        w.bank[0] = dataclasses.replace(credit, text="VIR STRIPE", booking_date=credit_day)
        w.bank[-1] = dataclasses.replace(back, reversal=True)
        r = reconcile(w.inputs())
        refs = (credit.reference, back.reference) if taken else (back.reference,)
        assert (("po_000",), refs) in r.payout_matches, r.payout_matches
        assert r.discrepancies == ()  # (a credit of September is not the period's)
