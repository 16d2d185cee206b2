"""Two payouts of the same amount on the same day, two credits of that amount, one of them
naming its payout: the named credit is that payout's, and the other credit, the only one
left, is the other payout's, whichever payout comes first in the run's order. Before, the
first payout (by id) was only suggested for the unnamed credit when the named credit was
the second payout's: the outcome hung on the order of the PSP's ids."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from reconciliation.matching import reconcile
from tests.reconciliation.world import START, build


@pytest.mark.parametrize("named", [0, 1])
def test_one_credit_naming_its_payout_leaves_the_other_to_the_other(named: int) -> None:
    w = build([[(1000, 30)], [(1000, 30)]])
    w.payouts = [dataclasses.replace(p, arrival_date=START) for p in w.payouts]
    day = dt.date(2026, 10, 2)
    w.bank = [dataclasses.replace(b, booking_date=day, text="VIR STRIPE") for b in w.bank]
    w.bank[named] = dataclasses.replace(w.bank[named], text=f"VIR STRIPE po_00{named}")
    r = reconcile(w.inputs())
    assert r.suggestions == () and r.discrepancies == ()
    assert sorted(r.payout_matches) == [(("po_000",), ("BANK0000",)), (("po_001",), ("BANK0001",))]
