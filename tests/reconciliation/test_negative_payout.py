"""A day whose refunds exceed its charges makes a negative payout: the PSP takes the
difference from the bank account, a debit on the statement. That debit is the payout's,
matched as a credit is matched to a positive payout (a review found it flagged twice: the
payout ``missing_in_bank`` and its debit ``unexpected_bank_debit``, for money that did
leave the bank as the PSP said)."""

from __future__ import annotations

import datetime as dt

from reconciliation.matching import reconcile
from reconciliation.records import CHARGE, REFUND, BankLine, LedgerItem, Payout, PspLine
from tests.reconciliation.world import World, at

DAY = dt.date(2026, 10, 5)


def negative_world(text: str = "STRIPE po_neg") -> World:
    w = World()
    w.psp.append(PspLine("txn_c", CHARGE, ("pi_1", "ch_1"), 1000, 30, 970, "EUR", "po_neg", at(DAY, 9)))  # fmt: skip
    w.ledger.append(LedgerItem("payment", "pi_1", 1000, 30, "EUR", ("ent_p",), at(DAY, 9)))
    w.psp.append(PspLine("txn_r", REFUND, ("re_1", "pi_0"), -3000, 0, -3000, "EUR", "po_neg", at(DAY, 11)))  # fmt: skip
    w.ledger.append(LedgerItem("refund", "re_1", -3000, 0, "EUR", ("ent_r",), at(DAY, 11)))
    w.payouts.append(Payout("po_neg", -2030, "EUR", DAY))
    w.ledger.append(LedgerItem("payout", "po_neg", 2030, 0, "EUR", ("ent_po",), at(DAY, 20)))
    w.bank.append(BankLine("BANK1", 2030, "debit", "EUR", DAY + dt.timedelta(days=1), text))
    return w


def test_a_negative_payout_is_matched_to_the_bank_debit_naming_it() -> None:
    r = reconcile(negative_world().inputs())
    assert [(d.category, d.amount) for d in r.discrepancies] == []
    assert r.payout_matches == ((("po_neg",), ("BANK1",)),)


def test_a_negative_payout_is_matched_to_the_one_debit_of_its_amount() -> None:
    r = reconcile(negative_world("PRLV SEPA STRIPE").inputs())
    assert [(d.category, d.amount) for d in r.discrepancies] == []
    assert r.payout_matches == ((("po_neg",), ("BANK1",)),)


def test_a_debit_of_another_amount_is_still_unexpected_and_the_payout_missing() -> None:
    w = negative_world()
    w.bank = [BankLine("BANK1", 2000, "debit", "EUR", DAY + dt.timedelta(days=1), "FRAIS")]
    r = reconcile(w.inputs())
    assert sorted((d.category, d.amount) for d in r.discrepancies) == [
        ("missing_in_bank", 2030),
        ("unexpected_bank_debit", 2000),
    ]
    assert r.payout_matches == ()
