"""A payout the bank credited and then returned (pure): an R-transaction, the credit and
then a debit reversing it, for a payout the PSP's lines of the period show failed. The ledger
books that payout into the bank and out of it again, and the two bank entries are those
movements: matched to the failed payout, never unexpected at the bank (``banking``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from reconciliation.book import business_days_between, direction, names_payout, unique_lines
from reconciliation.records import PAYOUT, BankLine, Inputs, Payout, payout_of


def returned(
    inp: Inputs, payouts: Sequence[Payout], open_b: dict[str, BankLine], *, named: bool
) -> list[tuple[str, list[str]]]:
    """The payouts whose failure the PSP's lines of the period show, each with its bank
    lines in ``open_b`` (``open_b`` loses them; ``BankLine.amount`` is signed, a debit
    negative): the return of the money (a debit of what came back to the PSP, a credit for
    a negative payout's) and, booked on or before it, the entry it reverses when that is in
    the run (a credit of the month before was matched in its run).

    ``named``: the lines that name that payout and no other. Otherwise the lines that name
    no payout: the return only when the bank marks it a reversal (``RvslInd``), and the
    credit only when it is the one line of its amount before the return within the window
    of the day the payout was due at the bank. Only one return
    is ever taken: anything else stays for a human (a failed payout the bank never
    credited has no line at all)."""
    back: dict[tuple[str, str], int] = {}
    for x in unique_lines(inp.psp_lines):
        pid = payout_of(x)
        if x.category == PAYOUT and direction(x) == 1 and pid:
            back[(pid, x.currency)] = back.get((pid, x.currency), 0) + x.net
    ids = {p.id for p in payouts} | {pid for pid, _ in back}
    # when the PSP said it, the day each payout was due at the bank (its line out may be of
    # the days before the period): a credit naming no payout is only taken near it
    due = {p.id: p.arrival_date for p in payouts}
    for x in (*inp.psp_before, *inp.psp_lines):
        if x.category == PAYOUT and direction(x) == -1 and x.payout_id:
            due.setdefault(x.payout_id, x.arrival or x.created.date())
    found: list[tuple[str, list[str]]] = []
    for (pid, cur), amount in sorted(back.items()):
        own = [
            b
            for b in sorted(open_b.values(), key=lambda b: (b.booking_date, b.reference))
            if amount
            and b.currency == cur
            and (names_payout(b.text, pid) if named else True)
            and not any(names_payout(b.text, q) for q in ids if q != pid or not named)
        ]
        returns = [b for b in own if b.amount == -amount and (named or b.reversal)]
        if len(returns) != 1:
            continue
        sent = [
            b
            for b in own
            if b.amount == amount
            and b.booking_date <= returns[0].booking_date
            and (named or _near(inp, due.get(pid), b.booking_date))
        ]
        if named and len([b for b in own if b.amount == amount]) > len(sent):
            continue  # (a credit naming it after its return: not an R-transaction)
        if len(sent) > 1:
            continue
        found.append((pid, [b.reference for b in [*sent, *returns]]))
        for b in [*sent, *returns]:
            open_b.pop(b.reference)
    return found


def _near(inp: Inputs, due: dt.date | None, day: dt.date) -> bool:
    return due is not None and business_days_between(due, day) <= inp.window_days
