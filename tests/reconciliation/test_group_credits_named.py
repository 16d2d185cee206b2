"""A bank credit carrying several payouts, or one of several credits carrying a payout,
that names its payouts in its remittance information (a batch entry, one ``TxDtls`` per
payout) is matched as a group, as it is when it names none. A review found naming them made
it worse: the credit naming po_000 and po_001 was suggested as po_000's alone ("its amount
is off") and po_001 called missing in the bank; a payout split over two credits naming it
was two suggestions, each for half its money."""

from __future__ import annotations

from reconciliation.matching import reconcile
from reconciliation.records import BankLine
from tests.reconciliation.world import build


def test_one_credit_naming_the_two_payouts_it_carries_matches_them() -> None:
    w = build([[(1000, 0)], [(2000, 0)], [(500, 0)]])
    day = w.bank[1].booking_date
    w.bank = [BankLine("BATCH", 3000, "credit", "EUR", day, "STRIPE po_000 | STRIPE po_001"),
              w.bank[2]]  # fmt: skip
    r = reconcile(w.inputs())
    assert (r.discrepancies, r.suggestions) == ((), ())
    assert (("po_000", "po_001"), ("BATCH",)) in r.payout_matches


def test_a_payout_split_over_two_credits_naming_it_matches_them() -> None:
    w = build([[(1000, 0)], [(2000, 0)]])
    day = w.bank[1].booking_date
    w.bank = [w.bank[0], BankLine("P1", 1500, "credit", "EUR", day, "STRIPE po_001 1/2"),
              BankLine("P2", 500, "credit", "EUR", day, "STRIPE po_001 2/2")]  # fmt: skip
    r = reconcile(w.inputs())
    assert (r.discrepancies, r.suggestions) == ((), ())
    assert (("po_001",), ("P1", "P2")) in r.payout_matches


def test_a_credit_naming_one_payout_is_not_grouped_with_others() -> None:
    """po_001 and po_002 add up to the credit that names po_000 (of another amount): the
    credit is po_000's, off, for a human to see; never a match for the two it does not name."""
    w = build([[(1000, 0)], [(2000, 0)], [(500, 0)]])
    day = w.bank[1].booking_date
    w.bank = [BankLine("B0", 2500, "credit", "EUR", day, "STRIPE po_000")]
    r = reconcile(w.inputs())
    assert [s.key for s in r.suggestions] == ["payout-bank:po_000:B0"]
    assert r.payout_matches == ()
