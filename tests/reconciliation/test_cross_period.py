"""Two consecutive runs across a period's edge (a review of the cut-off, the payouts'
excuses and the bank's in-transit found each of these wrong): pure worlds, two runs (October, then November from the PSP's port:
``psp_before`` holds the PSP's lines of the week before November)."""

from __future__ import annotations

import datetime as dt

from reconciliation.book import in_period
from reconciliation.in_transit import bank_in_transit
from reconciliation.matching import reconcile
from reconciliation.normalise import payouts_from_lines
from reconciliation.records import CHARGE, PAYOUT, BankLine, Inputs, LedgerItem, PspLine
from tests.reconciliation.world import at

UTC = dt.UTC
OCT1, OCT31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
NOV1, NOV30 = dt.date(2026, 11, 1), dt.date(2026, 11, 30)


def _month(first: dt.date, last: dt.date, lines, ledger, bank=(), before=(), as_of=None) -> Inputs:  # type: ignore[no-untyped-def]
    return Inputs(
        period_from=first,
        period_to=last,
        psp_lines=tuple(lines),
        ledger_items=tuple(ledger),
        payouts=tuple(payouts_from_lines(lines)),
        bank_lines=tuple(bank),
        as_of=as_of or dt.date(2026, 12, 20),
        psp_before=tuple(before),
    )


def _clearing_difference(inp: Inputs) -> int:
    """The psp_clearing tie-out's difference as the run shows it (EUR): the PSP's lines of
    the period less (the ledger's movement of the period less the cut-off)."""
    psp = sum(x.net for x in inp.psp_lines)
    ledger = sum(i.gross - i.fee for i in inp.ledger_items if in_period(inp, i.effective_at))
    return psp - (ledger - reconcile(inp).clearing_cut_off.get("EUR", 0))


# -- 1. a payout paid out on 30 October, booked paid on 2 November, failed on 4 November ----

PO = "po_m"
MADE = at(dt.date(2026, 10, 30), 12)
ARRIVAL = dt.date(2026, 11, 2)
FAILED = at(dt.date(2026, 11, 4), 9)


def test_a_payout_of_the_week_before_that_fails_in_the_period_is_not_missing_at_the_psp() -> None:
    """Stripe pays the payout out on Friday 30 October (arriving Monday 2 November, when
    ``payout.paid`` comes and regie books it), the bank refuses it and on 4 November Stripe
    takes the money back (``payout_failure``), which regie books too. November's run holds
    the payout's line among the lines of the week before and its failure line among the
    period's: each of the ledger's two entries has its PSP line. The run says
    ``missing_at_psp`` "the ledger books a payout the PSP does not list", of 0.00 EUR, and
    counts no cut-off, so that the clearing tie-out is 24.37 EUR apart. ``_ways_booked``
    {-1, 1} is compared with the ways of ``psp_before`` alone ({-1}); the failure's way is
    in the period's own lines."""
    before = (
        PspLine("txn_c", CHARGE, ("pi_m", "ch_m"), 2500, 63, 2437, "EUR", PO, at(MADE.date(), 9)),
        PspLine("txn_po", PAYOUT, (PO,), -2437, 0, -2437, "EUR", PO, MADE, arrival=ARRIVAL),
    )
    fail = PspLine("txn_fail", PAYOUT, (PO,), 2437, 0, 2437, "EUR", PO, FAILED)
    ledger = (
        LedgerItem("payout", PO, -2437, 0, "EUR", ("ent_po",), at(ARRIVAL, 9)),
        LedgerItem("payout", PO, 2437, 0, "EUR", ("ent_fail",), at(FAILED.date(), 10)),
    )
    nov = _month(NOV1, NOV30, [fail], ledger, before=before)
    r = reconcile(nov)
    assert r.discrepancies == (), r.discrepancies
    # the ledger's paid entry of 2 November is October's line: the cut-off, and the
    # clearing tie-out (PSP +24.37, ledger 0) agrees
    assert r.clearing_cut_off == {"EUR": -2437}
    assert _clearing_difference(nov) == 0


# -- 2. the next period's cut-off counts what does not agree -------------------------------


def test_the_cut_off_of_a_payment_across_midnight_that_does_not_agree_adds_up_over_two_months() -> (
    None
):
    """A payment of 10.00 EUR the PSP made at 23:59:30 on 31 October, which the ledger booked
    at 00:00:30 on 1 November as 10.01 EUR. October's run says ``amount_mismatch`` 0.01 and,
    the pair not agreeing, counts no cut-off: its clearing tie-out is 9.60 EUR apart.
    November's run counts the ledger's entry in its cut-off all the same (it checks only
    that the PSP has a line for the payment in the week before, not that they agree): its
    tie-out agrees. Over the two months the tie-outs say the clearing account is 9.60 EUR
    off, where it is 0.01 EUR off (the other way): the 9.60 never comes back. Either both
    months count the pair in their cut-off or neither does."""
    line = PspLine("txn_x", CHARGE, ("pi_x", "ch_x"), 1000, 40, 960, "EUR", None,
                   dt.datetime(2026, 10, 31, 23, 59, 30, tzinfo=UTC))  # fmt: skip
    item = LedgerItem("payment", "pi_x", 1001, 40, "EUR", ("ent_x",),
                      dt.datetime(2026, 11, 1, 0, 0, 30, tzinfo=UTC))  # fmt: skip
    october = _month(OCT1, OCT31, [line], [item])
    november = _month(NOV1, NOV30, [], [item], before=[line])
    assert [d.category for d in reconcile(october).discrepancies] == ["amount_mismatch"]
    truth = line.net - (item.gross - item.fee)  # -1
    assert _clearing_difference(october) + _clearing_difference(november) == truth


def test_a_payout_of_the_week_before_booked_twice_is_not_hidden_by_the_cut_off() -> None:
    """A payout of 24.37 EUR made on 30 October (arriving 2 November) that the ledger books
    paid twice, on 2 and 3 November: 48.74 EUR left the clearing account for a payout of
    24.37. October's run (the ledger read a week after it) says ``payout_mismatch`` and
    counts no cut-off (the sides do not agree): its clearing tie-out is 24.37 apart.
    November's run excuses both entries (the payout's line is of the week before) and counts
    both in its cut-off: nothing, and its tie-out agrees. Over the two months the tie-outs
    say the ledger moved 24.37 EUR less than the PSP, where it moved 24.37 more."""
    charge = PspLine("txn_c", CHARGE, ("pi_m",), 2500, 63, 2437, "EUR", PO, at(MADE.date(), 9))
    paid = PspLine("txn_po", PAYOUT, (PO,), -2437, 0, -2437, "EUR", PO, MADE, arrival=ARRIVAL)
    ledger = [
        LedgerItem("payment", "pi_m", 2500, 63, "EUR", ("ent_p",), at(MADE.date(), 9)),
        LedgerItem("payout", PO, -2437, 0, "EUR", ("ent_po",), at(ARRIVAL, 9)),
        LedgerItem("payout", PO, -2437, 0, "EUR", ("ent_po2",), at(dt.date(2026, 11, 3), 9)),
    ]
    october = _month(OCT1, OCT31, [charge, paid], ledger)
    november = _month(NOV1, NOV30, [], ledger, before=[charge, paid])
    assert "payout_mismatch" in [d.category for d in reconcile(october).discrepancies]
    truth = (charge.net + paid.net) - sum(i.gross - i.fee for i in ledger)  # +2437
    assert _clearing_difference(october) + _clearing_difference(november) == truth


# -- 3. the month's last daily payout, lost -------------------------------------------------

LAST = "po_last"
NIGHT = dt.datetime(2026, 10, 31, 23, 5, tzinfo=UTC)  # 00:05 on 1 November in Paris


def _last_payout_lost() -> tuple[tuple[PspLine, ...], tuple[LedgerItem, ...]]:
    lines = (
        PspLine("txn_c", CHARGE, ("pi_1",), 1000, 40, 960, "EUR", LAST, at(OCT31, 10)),
        PspLine("txn_po", PAYOUT, (LAST,), -960, 0, -960, "EUR", LAST, NIGHT, arrival=NOV1),
    )
    ledger = (
        LedgerItem("payment", "pi_1", 1000, 40, "EUR", ("ent_p",), at(OCT31, 10)),
        LedgerItem("payout", LAST, -960, 0, "EUR", ("ent_po",), NIGHT),
    )
    return lines, ledger


def test_the_months_last_daily_payout_that_never_reaches_the_bank_is_missing_somewhere() -> None:
    """The daily payout made at 00:05 in Paris on 1 November (23:05 UTC on 31 October, when
    the ledger books it into the bank), due at the bank on 1 November, never arrives; on
    20 December both months are reconciled with the bank's statements (an unrelated credit
    of the week after October is there, so the bank's side covers the payout's window).
    October's run counts it in the bank tie-out's ``in_transit`` (due after the period,
    neither matched nor suggested), so that tie-out agrees; November's run does not
    announce it (its line is of the week before) and looks for the ledger's payout on the
    day the ledger booked it, 31 October, another period's. No run says
    ``missing_in_bank``: 9.60 EUR lost between the PSP and the bank is no discrepancy
    anywhere. One of the two runs should say it is missing in the bank."""
    lines, ledger = _last_payout_lost()
    other = BankLine("OTHER", 5, "credit", "EUR", dt.date(2026, 11, 5), "INTERETS")
    october = _month(OCT1, OCT31, lines, ledger, bank=[other])
    november = _month(NOV1, NOV30, [], ledger, bank=[other], before=lines)
    r_oct, r_nov = reconcile(october), reconcile(november)
    assert bank_in_transit(october, r_oct) == {"EUR": 960}  # October's tie-out agrees
    missing = [
        d.payout_id
        for r in (r_oct, r_nov)
        for d in r.discrepancies
        if d.category == "missing_in_bank"
    ]
    assert missing == [LAST], (r_oct.discrepancies, r_nov.discrepancies)


# -- 4. payouts due after the period, in a pending suggestion ------------------------------


def test_payouts_due_after_the_period_stay_in_transit_when_their_credits_are_suggested() -> None:
    """Two payouts of 9.60 EUR made on 30 October, due on Monday 2 November, booked into the
    bank by the ledger on 30 October. Reconciled before November's statement is imported,
    October's bank tie-out counts 19.20 in transit and agrees. Once November's statement is
    imported (two credits of 9.60 on 2 November, with no payout id: a suggestion for each
    pair), the same October run counts nothing in transit and its bank tie-out is 19.20 EUR
    apart, though neither credit is October's: on 31 October both payouts were in transit
    whichever credit is whose."""
    day = dt.date(2026, 10, 30)
    lines, ledger, bank = [], [], []
    for k in range(2):
        po = f"po_{k}"
        lines += [
            PspLine(f"txn_c{k}", CHARGE, (f"pi_{k}",), 1000, 40, 960, "EUR", po, at(day, 9 + k)),
            PspLine(f"txn_po{k}", PAYOUT, (po,), -960, 0, -960, "EUR", po, at(day, 12 + k),
                    arrival=ARRIVAL),
        ]  # fmt: skip
        ledger += [
            LedgerItem("payment", f"pi_{k}", 1000, 40, "EUR", (f"ent_p{k}",), at(day, 9 + k)),
            LedgerItem("payout", po, -960, 0, "EUR", (f"ent_po{k}",), at(day, 12 + k)),
        ]
        bank.append(BankLine(f"B{k}", 960, "credit", "EUR", ARRIVAL, "VIREMENT PSP"))
    early = _month(OCT1, OCT31, lines, ledger, as_of=dt.date(2026, 11, 1))
    assert bank_in_transit(early, reconcile(early)) == {"EUR": 1920}
    later = _month(OCT1, OCT31, lines, ledger, bank=bank, as_of=dt.date(2026, 11, 20))
    r = reconcile(later)
    assert r.suggestions  # a human is to say which credit is whose
    assert bank_in_transit(later, r) == {"EUR": 1920}
