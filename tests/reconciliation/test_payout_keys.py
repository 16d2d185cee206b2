"""Payouts against the bank: a decision's key holds any character a bank writes in its
references, and a run lists in transit only the payouts of its own period."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from reconciliation.banking import payout_bank_sides
from reconciliation.matching import add_business_days, reconcile, suggestion_key
from reconciliation.records import BankLine, Payout
from tests.reconciliation.world import END, build, without_remittance


@pytest.mark.parametrize(
    "refs", [("BNK+2026:77", "BNK-2"), ("A%2B:B", "C%"), ("x+y", "x:y"), ("é/ü ß", "%3A")]
)
def test_a_confirmed_suggestion_is_matched_whatever_its_references_hold(
    refs: tuple[str, str],
) -> None:
    w = without_remittance(build([[(1000, 0)], [(1000, 0)]]))
    w.bank = [dataclasses.replace(b, reference=r) for b, r in zip(w.bank, refs, strict=True)]
    first = reconcile(w.inputs())
    assert first.payout_matches == () and len(first.suggestions) == 4
    keys = {suggestion_key(["po_000"], [refs[0]]), suggestion_key(["po_001"], [refs[1]])}
    assert keys <= {s.key for s in first.suggestions}
    r = reconcile(w.inputs(confirmed=frozenset(keys)))
    assert r.suggestions == () and r.discrepancies == ()
    assert sorted(r.payout_matches) == [(("po_000",), (refs[0],)), (("po_001",), (refs[1],))]


def test_a_key_reads_back_its_sides_and_plain_keys_are_unchanged() -> None:
    # decisions stored before keys were encoded: their keys read as they always did
    assert suggestion_key(["po_2", "po_1"], ["BNK-1"]) == "payout-bank:po_1+po_2:BNK-1"
    ps, bs = ["po_+:%1", "po_2"], ["BNK+2026:77", "a%b"]
    assert payout_bank_sides(suggestion_key(ps, bs)) == (sorted(ps), sorted(bs))
    assert payout_bank_sides("payout-bank:po_1+po_2:BNK-1") == (["po_1", "po_2"], ["BNK-1"])
    assert payout_bank_sides("missing_in_bank:po_1") is None


def test_a_payout_arriving_after_the_period_is_not_in_its_transit() -> None:
    """October's run, on 3 November: a payout that reaches the bank on 2 November is
    November's, not in transit in October; one of 30 October still is."""
    w = build([[(1000, 0)]])
    w.bank = []
    w.as_of = dt.date(2026, 11, 3)
    w.payouts = [Payout("po_oct", 1000, "EUR", dt.date(2026, 10, 30)),
                 Payout("po_nov", 500, "EUR", dt.date(2026, 11, 2))]  # fmt: skip
    w.ledger = []
    w.psp = []
    r = reconcile(w.inputs())
    assert r.in_transit == ("po_oct",)
    assert add_business_days(END, 2) >= w.as_of
    # nor is a payout from before the period whose window is still open (September's)
    w.payouts.append(Payout("po_sep", 700, "EUR", dt.date(2026, 9, 30)))
    w.as_of = dt.date(2026, 10, 1)
    w.bank = [BankLine("BNK-X", 1, "credit", "EUR", dt.date(2026, 12, 1), "?")]
    r = reconcile(w.inputs())
    assert "po_sep" not in r.in_transit
