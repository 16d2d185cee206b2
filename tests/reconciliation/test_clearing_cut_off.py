"""What the tie-outs count as booked across the period's edge, on matching's own worlds:
the clearing account's cut-off (objects both sides agree on, dated by one side in the
period and by the other before or after it) and the bank's payouts due after the period."""

from __future__ import annotations

import dataclasses
import datetime as dt

from reconciliation.in_transit import bank_in_transit
from reconciliation.matching import reconcile
from reconciliation.records import CHARGE, PAYOUT, LedgerItem, PspLine
from reconciliation.report import summary_lines, summary_words
from reconciliation.schemas import RunOut, TieOutOut
from tests.reconciliation.world import END, START, World, build

UTC = dt.UTC
AFTER_MIDNIGHT = dt.datetime(2026, 11, 1, 0, 0, 30, tzinfo=UTC)
BEFORE_MIDNIGHT = dt.datetime(2026, 9, 30, 23, 59, 30, tzinfo=UTC)


def _booked_at(w: World, ref: str, at: dt.datetime, **change: int) -> LedgerItem:
    """The ledger's item for ``ref``, booked at ``at`` (and changed so) instead."""
    (item,) = [i for i in w.ledger if i.ref == ref]
    moved = dataclasses.replace(item, effective_at=at, **change)  # type: ignore[arg-type]
    w.ledger = [moved if i is item else i for i in w.ledger]
    return moved


def test_a_payment_the_ledger_books_after_the_period_is_the_clearing_cut_off() -> None:
    w = build([[(2500, 63), (1000, 40)]])
    item = _booked_at(w, "pi_00001", AFTER_MIDNIGHT)
    r = reconcile(w.inputs())
    assert r.discrepancies == () and r.matched_count == 2
    assert r.clearing_cut_off == {"EUR": -(1000 - 40)}  # the PSP's line of the period
    assert item.gross - item.fee == 960


def test_a_payment_whose_psp_line_is_the_period_befores_is_the_clearing_cut_off() -> None:
    w = build([[(2500, 63), (1000, 40)]])
    (line,) = [x for x in w.psp if x.category == CHARGE and "pi_00001" in x.refs]
    w.psp = [x for x in w.psp if x is not line]
    before = (dataclasses.replace(line, created=BEFORE_MIDNIGHT),)
    r = reconcile(w.inputs(psp_before=before, payout_lines=(line,)))
    assert r.discrepancies == ()
    assert r.clearing_cut_off == {"EUR": 960}  # the ledger's entry of the period


def test_a_pair_that_does_not_agree_is_a_discrepancy_not_a_cut_off() -> None:
    w = build([[(2500, 63), (1000, 40)]])
    _booked_at(w, "pi_00001", AFTER_MIDNIGHT, gross=1001)
    r = reconcile(w.inputs())
    assert [d.category for d in r.discrepancies] == ["amount_mismatch"]
    assert r.clearing_cut_off == {}
    # nor is a ledger entry of the period whose PSP line is nowhere
    w = build([[(2500, 63)]])
    w.ledger.append(LedgerItem("payment", "pi_x", 500, 0, "EUR", ("ent_x",), AFTER_MIDNIGHT))
    w.ledger.append(LedgerItem("payment", "pi_y", 700, 0, "EUR", ("ent_y",), dt.datetime(2026, 10, 9, tzinfo=UTC)))  # fmt: skip
    r = reconcile(w.inputs())
    assert [d.category for d in r.discrepancies] == ["missing_at_psp"]
    assert r.clearing_cut_off == {}


def test_a_payout_created_in_the_period_and_booked_paid_after_it_is_the_cut_off() -> None:
    w = build([[(2500, 63)]])
    (po,) = w.payouts
    _booked_at(w, po.id, dt.datetime(2026, 11, 2, 9, tzinfo=UTC))
    r = reconcile(w.inputs())
    assert r.discrepancies == ()
    assert r.clearing_cut_off == {"EUR": po.amount}  # the PSP's payout line, -24.37
    # and in the next period, the ledger's entry whose line the PSP made the week before
    (line,) = [x for x in w.psp if x.category == PAYOUT]
    nxt = dataclasses.replace(
        w.inputs(psp_before=tuple(w.psp)), period_from=dt.date(2026, 11, 1),
        period_to=dt.date(2026, 11, 19), psp_lines=(), payouts=(), bank_lines=(),
    )  # fmt: skip
    r = reconcile(nxt)
    flagged = [d.payout_id for d in r.discrepancies if d.category == "missing_at_psp"]
    assert flagged in ([], [po.id])
    # a payout the rounds flag missing at the PSP is left to that discrepancy; one they know
    # for the previous period's line is the cut-off
    assert r.clearing_cut_off == ({"EUR": line.net} if not flagged else {})


def test_a_payout_failure_is_its_own_way() -> None:
    """A payout paid in the period, returned by the bank in it too (its failure line is the
    period's) and booked failed by the ledger days after: only the failure crosses."""
    w = build([[(2500, 63)]])
    (po,) = w.payouts
    w.payouts = [dataclasses.replace(po, amount=0, returned=po.amount)]
    w.bank = []
    back = dt.datetime(2026, 10, 30, 9, tzinfo=UTC)
    w.psp.append(PspLine("txn_fail", PAYOUT, (po.id,), po.amount, 0, po.amount, "EUR", po.id, back))  # fmt: skip
    w.ledger.append(LedgerItem("payout", po.id, po.amount, 0, "EUR", ("ent_fail",), AFTER_MIDNIGHT))  # fmt: skip
    r = reconcile(w.inputs())
    assert r.discrepancies == ()
    assert r.clearing_cut_off == {"EUR": -po.amount}  # the PSP's failure line of the period


def _last_payout_due_after_the_period() -> tuple[World, str, int]:
    """The month's last payout, booked by the ledger at 22:05 UTC on its last day, due at
    the bank on the 1st (00:05 in Paris)."""
    w = build([[(2500, 63)], [(1000, 40)]])
    last = w.payouts[-1]
    w.payouts[-1] = dataclasses.replace(last, arrival_date=END + dt.timedelta(days=1))
    _booked_at(w, last.id, dt.datetime(2026, 10, 31, 22, 5, tzinfo=UTC))
    w.bank = [b for b in w.bank if last.id not in b.text]
    return w, last.id, last.amount


def test_a_payout_due_after_the_period_that_the_ledger_booked_in_it_is_in_transit() -> None:
    w, pid, amount = _last_payout_due_after_the_period()
    w.as_of = dt.date(2026, 11, 3)
    r = reconcile(w.inputs())
    assert r.discrepancies == () and r.in_transit == ()  # the next period's to expect
    assert bank_in_transit(w.inputs(), r) == {"EUR": amount}
    # long after: still in transit at the period's end (the next period says if it is lost)
    w.as_of = dt.date(2026, 12, 20)
    assert bank_in_transit(w.inputs(), reconcile(w.inputs())) == {"EUR": amount}
    # credited in the period after all: at the bank by its end
    w.bank.append(dataclasses.replace(w.bank[-1], reference="EARLY", amount=amount,
                                      booking_date=END, text=f"STRIPE {pid}"))  # fmt: skip
    r = reconcile(w.inputs())
    assert ((pid,), ("EARLY",)) in r.payout_matches and bank_in_transit(w.inputs(), r) == {}
    # a payout the ledger has not booked by the period's end is not the ledger's yet
    w, pid, amount = _last_payout_due_after_the_period()
    _booked_at(w, pid, AFTER_MIDNIGHT)
    assert bank_in_transit(w.inputs(), reconcile(w.inputs())) == {}


def test_the_reports_call_the_clearing_cut_off_by_its_name() -> None:
    at = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)
    one = RunOut(
        id="run_1", period_from=START, period_to=END, as_of=at.date(),
        provider="simulator", sources=[], inputs_sha256="ab" * 32, actor="key_1",
        created_at=at, summary={}, discrepancies=[],
        tie_outs=[TieOutOut(name="psp_clearing", currency="EUR", ledger=0, source=2437,
                            in_transit=-2437, difference=0)],
    )  # fmt: skip
    assert summary_lines(one)[-1] == (
        "  tie-out psp_clearing (EUR): ledger €0.00, PSP €24.37, "
        "booked across the period's edge -€24.37: agrees"
    )
    (fr,) = [x for x in summary_words(one, "fr") if x.startswith("Compte d'attente")]
    assert "de part et d'autre d'une borne de la période -24,37\u00a0€" in fr, fr
    assert "transit" not in fr and "transit" not in summary_lines(one)[-1]
