"""What the tie-outs count in transit (pure): the payouts the ledger booked into the bank in
the period that the bank credits after it (``bank_in_transit``), and the clearing account's
cut-off, set on the tie-outs (``with_in_transit``). Matching (``banking``) tells which
payout went to which credit; this reads its result at the period's end."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from reconciliation.records import Inputs, Result, TieOut


def bank_in_transit(
    inp: Inputs, result: Result, cut: dict[str, dt.date] | None = None
) -> dict[str, int]:
    """Per currency, what the ledger holds at the bank at the end of the period (or of the
    day ``cut`` gives the currency: the bank's closing balance compared, ``TieOut.as_of``)
    that the bank books after it: the payouts the ledger booked into the bank by then (their
    entries up to that day's end, UTC days as the ledger's balance is read) that are matched
    to credits all booked after it, not yet due there (``Result.in_transit``), or due after
    it and not yet matched nor suggested. A payout of Saturday the 31st is credited on
    Monday the 2nd; the daily payout made at 00:05 in Paris on the 1st is booked by the
    ledger at 22:05 UTC on the 31st and expected at the bank on the 1st (the bank's day):
    the month's bank tie-out counts each in transit. A payout due in the period that the
    bank never credited is ``missing_in_bank``, not in transit."""
    days = cut or {}
    later: dict[dt.date, set[str]] = {}
    out: dict[str, int] = defaultdict(int)
    for i in inp.ledger_items:
        if i.kind != "payout":
            continue
        day = days.get(i.currency, inp.period_to)
        if day not in later:
            later[day] = _later(inp, result, day)
        if i.ref in later[day] and i.effective_at.date() <= day:
            out[i.currency] -= i.gross  # the PSP's side of the entry: the bank's is opposite
    for cur, n in _parts_later(inp, result, days).items():
        out[cur] += n
    return {cur: n for cur, n in sorted(out.items()) if n}


def _parts_later(inp: Inputs, result: Result, days: dict[str, dt.date]) -> dict[str, int]:
    """Per currency, the parts of payouts credited (or debited) in several entries, some by
    the day compared and some after it, that the bank books after it: the ledger put the
    whole payout in the bank by then (a payout of Friday the 30th credited 6.00 that day and
    3.70 on Monday the 2nd). Only a match whose entries all go one way (not a payout's
    credit and the bank's return of it) and whose payouts the ledger booked by then."""
    lines = {b.reference: b for b in inp.bank_lines}
    out: dict[str, int] = defaultdict(int)
    for payouts, refs in result.payout_matches:
        parts = [lines[r] for r in refs if r in lines]
        if len(parts) < 2 or len({(b.direction, b.currency) for b in parts}) != 1:
            continue
        cur = parts[0].currency
        day = days.get(cur, inp.period_to)
        after = [b for b in parts if b.booking_date > day]
        booked = {
            i.ref
            for i in inp.ledger_items
            if i.kind == "payout" and i.currency == cur and i.effective_at.date() <= day
        }
        if 0 < len(after) < len(parts) and all(p in booked for p in payouts):
            way = 1 if parts[0].direction == "credit" else -1
            out[cur] += way * sum(b.amount for b in after)
    return out


def _later(inp: Inputs, result: Result, end: dt.date) -> set[str]:
    """The payouts the bank credits after ``end`` (``bank_in_transit``)."""
    booked = {b.reference: b.booking_date for b in inp.bank_lines}
    later = set(result.in_transit)
    matched: set[str] = set()
    for payouts, credits in result.payout_matches:
        matched.update(payouts)
        if credits and all(booked[ref] > end for ref in credits):
            later.update(payouts)
    # (a payout suggested for a credit the bank booked by then may be credited: not in
    # transit; one suggested only for credits booked after it still is)
    suggested = {
        pid
        for s in result.suggestions
        if any(ref in booked and booked[ref] <= end for ref in s.bank_references)
        for pid in s.payout_ids
    }
    later.update(
        p.id
        for p in inp.payouts
        if p.arrival_date > end and p.id not in matched and p.id not in suggested
    )
    # (a payout due by then, suggested only for credits the bank booked after it: whichever
    # credit is its own, the bank booked it after)
    later.update(
        pid
        for s in result.suggestions
        if all(ref in booked and booked[ref] > end for ref in s.bank_references)
        for pid in s.payout_ids
        if pid not in matched and pid not in suggested
    )
    return later


def with_in_transit(
    tie_outs: Sequence[TieOut], in_transit: dict[str, int], cut_off: dict[str, int] | None = None
) -> list[TieOut]:
    """The tie-outs with what the ledger counts in the period that the source dates in
    another: the bank's payouts in transit at the period's end (``bank_in_transit``), the
    clearing account's cut-off (``Result.clearing_cut_off``)."""
    by_name = {"bank": in_transit, "psp_clearing": cut_off or {}}
    return [
        dataclasses.replace(t, in_transit=by_name[t.name].get(t.currency, 0))
        if t.name in by_name
        else t
        for t in tie_outs
    ]
