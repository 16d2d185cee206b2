"""Many French banks write the remittance information in capitals (the payer's "STRIPE
po_1PqRs…" reaches the statement as "STRIPE PO_1PQRS…"). A payout id written so still
names its payout, in a text written all in capitals: two payouts of one amount on one day
are told apart by it instead of left as four suggestions."""

from __future__ import annotations

import dataclasses
import datetime as dt

from reconciliation.matching import reconcile
from tests.reconciliation.world import START, build


def _twins(texts: tuple[str, str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    w = build([[(1000, 30)], [(1000, 30)]])
    w.payouts = [dataclasses.replace(p, arrival_date=START) for p in w.payouts]
    day = dt.date(2026, 10, 2)
    # the credit of po_001 is the bank's first reference
    w.bank = [
        dataclasses.replace(w.bank[1], reference="A", booking_date=day, text=texts[1]),
        dataclasses.replace(w.bank[0], reference="B", booking_date=day, text=texts[0]),
    ]
    r = reconcile(w.inputs())
    assert r.suggestions == () and r.discrepancies == (), (r.suggestions, r.discrepancies)
    return sorted(r.payout_matches)


def test_a_payout_id_in_capitals_names_its_payout() -> None:
    got = _twins(("VIR SEPA STRIPE PO_000", "VIR SEPA STRIPE PO_001"))
    assert got == [(("po_000",), ("B",)), (("po_001",), ("A",))]


def test_as_written_it_still_does() -> None:
    got = _twins(("VIR SEPA STRIPE po_000", "Vir Sepa Stripe po_001"))
    assert got == [(("po_000",), ("B",)), (("po_001",), ("A",))]
