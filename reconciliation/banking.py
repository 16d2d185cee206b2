"""Rounds 4 and 5 of matching (pure): payouts against bank credits.

One payout, one credit: the same amount, booked within ``window_days`` business days of the
payout's arrival; the payout id in the credit's remittance information breaks ties (a
negative payout, refunds beyond the PSP's balance, is matched so to the debit the PSP takes).
Then groups: one credit paying several payouts, one payout split over several credits,
matched when exactly one combination's sum agrees. What is uncertain is a ``Suggestion``; payouts
not found once their window has passed are ``missing_in_bank``; credits and debits nothing
explains are ``unexpected_bank_credit`` / ``unexpected_bank_debit``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
from collections.abc import Iterable, Sequence

from reconciliation.bank_returns import returned
from reconciliation.book import (
    AMOUNT_MISMATCH,
    MAX_GROUP,
    MAX_GROUP_CANDIDATES,
    MISSING_IN_BANK,
    UNEXPECTED_BANK_CREDIT,
    UNEXPECTED_BANK_DEBIT,
    Book,
    add_business_days,
    business_days_between,
    direction,
    in_period,
    ledger_payouts,
    names_payout,
    told_until,
)
from reconciliation.records import (
    PAYOUT,
    BankLine,
    Inputs,
    Payout,
    Side,
    Suggestion,
    payout_of,
)

# A suggestion's reason: stored and returned by the API as these stable texts, which the
# finance workspace translates when it shows them.
REASON_SEVERAL_CANDIDATES = "same amount, several candidates"
REASON_NAMED_BUT_OFF = "the credit names the payout; its amount or date is off"
REASON_SEVERAL_COMBINATIONS = "several combinations sum to the amount"


_PREFIX = "payout-bank:"
# the longest key a suggestion and its decision keep (``models.ReconSuggestion.key``): a
# combination whose key is longer is not suggested, and its payouts and credits are left
# open (missing in the bank, unexpected at the bank) for a human to see
MAX_KEY = 600
# the characters a key's format gives a meaning to, percent-encoded in the ids it holds; no
# other is, so the keys of ids without these read as they did before (decisions stored then
# still hold)
_SPECIAL = {"%": "%25", "+": "%2B", ":": "%3A"}
# a discrepancy's key is at most 300 characters, its category and ":" included
_MAX_DIFFERENCE_KEY = 300 - len("amount_mismatch:")


def encode_ref(ref: str) -> str:
    """An id as a ``suggestion_key`` holds it (percent-encoded where it has a meaning)."""
    return "".join(_SPECIAL.get(c, c) for c in ref)


def _decode(text: str) -> str:
    return text.replace("%2B", "+").replace("%3A", ":").replace("%25", "%")


def suggestion_key(payout_ids: Iterable[str], bank_refs: Iterable[str]) -> str:
    """The stable key of a suggestion (and of its decision): its payouts' and credits' ids,
    sorted, each percent-encoded where it holds ``%``, ``+`` or ``:`` (a bank's reference
    may: ``BNK+2026:77``)."""
    ps = "+".join(encode_ref(p) for p in sorted(payout_ids))
    bs = "+".join(encode_ref(b) for b in sorted(bank_refs))
    return f"{_PREFIX}{ps}:{bs}"


def difference_key(key: str) -> str:
    """The key of the difference between the two sides of a confirmed suggestion (``key``),
    within a discrepancy key's length (``models.ReconDiscrepancy.key``): the suggestion's
    key itself, or its digest when that is longer."""
    if len(key) <= _MAX_DIFFERENCE_KEY:
        return key
    return f"{_PREFIX}sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def payout_bank_sides(key: str) -> tuple[list[str], list[str]] | None:
    """The payouts and the credits a ``suggestion_key`` names; None for another key."""
    if not key.startswith(_PREFIX) or key.count(":") != 2:
        return None
    _, ps_text, bs_text = key.split(":")
    return [_decode(p) for p in ps_text.split("+")], [_decode(b) for b in bs_text.split("+")]


def _near(inp: Inputs, p: Payout, b: BankLine) -> bool:
    return (
        b.currency == p.currency
        and _same_way(p, b)
        and business_days_between(p.arrival_date, b.booking_date) <= inp.window_days
    )


def _same_way(p: Payout, b: BankLine) -> bool:
    """A credit for a payout, a debit for a negative one (``payouts_to_bank``)."""
    return (p.amount < 0) == (b.direction != "credit")


def payouts_to_bank(
    inp: Inputs, book: Book
) -> tuple[list[tuple[tuple[str, ...], tuple[str, ...]]], list[str]]:
    announced = {p.id for p in inp.payouts}
    # the ledger's payouts the PSP side did not list still explain bank credits; one whose
    # line out is of the week before the period (``Inputs.psp_before``: made on the 31st,
    # booked, and due at the bank on the 1st) is looked for on the day the PSP gave, so the
    # run of the period it is due in says if it never arrives
    due = {
        line.payout_id: line.arrival or line.created.date()
        for line in inp.psp_before
        if line.category == PAYOUT and line.payout_id and direction(line) == -1
    }
    # (not one whose failure the PSP's lines of the period show: it came back, and the bank
    # was never to credit it; its entries are compared with the PSP's lines, ``payout_rounds``)
    failed = {
        payout_of(x)
        for x in inp.psp_lines
        if x.category == PAYOUT and x.payout_id and direction(x) == 1
    }
    # (a negative payout too, a debit; never a failure read without its payout's entry)
    out = {i.ref for i in inp.ledger_items if i.kind == "payout" and direction(i) == -1}
    booked = [
        Payout(i.ref, -i.gross, i.currency, due.get(i.ref, i.effective_at.date()))
        for i in ledger_payouts(inp.ledger_items).values()
        if i.ref in out - announced - failed and i.gross
    ]
    # a payout that failed (its failure lines offset it to nothing) is not looked for
    sent = [p for p in inp.payouts if p.amount or not p.returned]
    payouts = sorted([*sent, *booked], key=lambda p: (p.arrival_date, p.id))
    seen_refs: set[str] = set()
    # the bank's lines, a debit at its signed amount: a negative payout (refunds beyond
    # what the PSP's balance held) is the PSP taking that much from the bank, matched to its
    # debit as a payout is to its credit; a line is only ever matched to payouts of its sign
    credits: list[BankLine] = []
    for b in sorted(inp.bank_lines, key=lambda b: (b.booking_date, b.reference)):
        if b.reference in seen_refs:
            continue
        seen_refs.add(b.reference)
        credits.append(b if b.direction == "credit" else dataclasses.replace(b, amount=-b.amount))
    by_id: dict[str, Payout] = {p.id: p for p in payouts}
    by_ref: dict[str, BankLine] = {b.reference: b for b in credits}
    open_p, open_b = dict(by_id), dict(by_ref)
    matches: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    suggested: set[str] = set()

    def close(ps: Sequence[str], bs: Sequence[str]) -> None:
        for pid in ps:
            open_p.pop(pid, None)
        for ref in bs:
            open_b.pop(ref, None)
        matches.append((tuple(sorted(ps)), tuple(sorted(bs))))

    def suggest(kind: str, ps: Sequence[str], bs: Sequence[str], reason: str) -> None:
        key = suggestion_key(ps, bs)
        if key in inp.rejected or len(key) > MAX_KEY:
            return  # (a key longer than its column: ids far beyond any PSP's or bank's)
        pays = tuple(Side(p, by_id[p].amount, by_id[p].arrival_date) for p in sorted(ps))
        creds = tuple(Side(r, by_ref[r].amount, by_ref[r].booking_date) for r in sorted(bs))
        book.suggestions.append(
            Suggestion(
                key, kind, tuple(sorted(ps)), tuple(sorted(bs)),
                sum(c.amount for c in creds), by_id[ps[0]].currency, reason, pays, creds,
            )
        )  # fmt: skip
        suggested.update(ps)
        suggested.update(bs)

    # what a human confirmed before is matched first, if both sides are still there (in one
    # currency); what the two sides differ by stays in sight: confirming says the credit is
    # that payout's money, not that the money that is missing does not matter
    for key in sorted(inp.confirmed):
        sides = payout_bank_sides(key)
        if sides is None:
            continue
        ps, bs = sides
        if not (all(p in open_p for p in ps) and all(b in open_b for b in bs)):
            continue
        cur = by_id[ps[0]].currency
        if any(by_id[p].currency != cur for p in ps) or any(by_ref[b].currency != cur for b in bs):
            continue
        close(ps, bs)
        paid = sum(by_id[p].amount for p in ps)
        received = sum(by_ref[b].amount for b in bs)
        if paid != received:
            book.flag(
                AMOUNT_MISMATCH,
                difference_key(key),
                received - paid,
                cur,
                payout=sorted(ps)[0],
                bank=sorted(bs)[0],
                detail=f"payout {paid}, bank {received} (minor units): a confirmed suggestion, "
                f"{'the bank received more' if received > paid else 'the bank received less'}",
            )
    # a payout the bank credited and then returned (an R-transaction), which the PSP's lines
    # show failed: its credit and the bank's reversal of it are that payout's, and its failure's
    for pid, refs in returned(inp, payouts, open_b, named=True):
        close([pid], refs)
    # which payouts each credit names in its remittance: a credit naming another payout is
    # that payout's, never a candidate for this one
    names = {b.reference: {q.id for q in payouts if names_payout(b.text, q.id)} for b in credits}

    def near_of(p: Payout) -> list[BankLine]:
        return [
            b
            for b in open_b.values()
            if b.amount == p.amount and _near(inp, p, b) and not names[b.reference] - {p.id}
        ]

    # round 4: one payout, one credit; first the credits naming their payout, so that a
    # payout's rivals of its amount are only those whose credit is still to be found,
    # whatever the order of the payouts' ids
    for p in payouts:
        named = [b for b in near_of(p) if names_payout(b.text, p.id)] if p.id in open_p else []
        if len(named) == 1:
            close([p.id], [named[0].reference])
    for p in payouts:
        if p.id not in open_p:
            continue
        near = near_of(p)
        rivals = [
            q
            for q in open_p.values()
            if q.amount == p.amount and any(_near(inp, q, b) for b in near)
        ]
        if (
            len(near) == 1
            and len(rivals) == 1
            and not any(names_payout(near[0].text, q.id) for q in payouts if q.id != p.id)
        ):
            close([p.id], [near[0].reference])
        elif near:
            for b in near:
                suggest("payout_bank", [p.id], [b.reference], REASON_SEVERAL_CANDIDATES)
    # round 5: groups (before a credit naming a payout of another amount is suggested: a
    # batch credit names each payout it carries, each part of a split payout names it); a
    # credit naming payouts is only ever grouped with those
    for b in sorted(open_b.values(), key=lambda b: (b.booking_date, b.reference)):
        if b.reference not in open_b or b.reference in suggested:
            continue
        own = names[b.reference]
        pool = [
            p
            for p in open_p.values()
            if _near(inp, p, b) and p.id not in suggested and (p.id in own or not own)
        ]
        _group(
            pool,
            b.amount,
            lambda combo, b=b: ([p.id for p in combo], [b.reference]),
            close,
            suggest,
        )
    for p in sorted(open_p.values(), key=lambda p: (p.arrival_date, p.id)):
        if p.id not in open_p or p.id in suggested:
            continue
        pool_b = [
            b
            for b in open_b.values()
            if _near(inp, p, b) and b.reference not in suggested and not names[b.reference] - {p.id}
        ]
        _group(
            pool_b,
            p.amount,
            lambda combo, p=p: ([p.id], [b.reference for b in combo]),
            close,
            suggest,
        )
    # a failed payout's credit and the bank's return of it that name no payout: the return
    # marked a reversal, and the one credit of its amount before it that no payout took
    unclaimed = {r: b for r, b in open_b.items() if r not in suggested}
    for pid, refs in returned(inp, payouts, unclaimed, named=False):
        close([pid], refs)
    # a credit naming a payout whose amount differs: shown to a human, never matched
    for p in payouts:
        if p.id in open_p and p.id not in suggested:
            for b in list(open_b.values()):
                off = names_payout(b.text, p.id) and b.currency == p.currency and _same_way(p, b)
                if off and b.reference not in suggested:
                    suggest("payout_bank", [p.id], [b.reference], REASON_NAMED_BUT_OFF)
    # what is left over
    in_transit: list[str] = []
    for pid, p in sorted(open_p.items()):
        # a payout reaching the bank before or after the period is another period's
        if pid in suggested or not in_period(inp, p.arrival_date):
            continue
        last = add_business_days(p.arrival_date, inp.window_days)
        if last >= bank_day(inp, p.currency):
            in_transit.append(pid)
        else:
            detail = f"expected at the bank around {p.arrival_date.isoformat()}"
            for lo, hi in inp.bank_gaps.get(p.currency, ()):
                if lo <= last and p.arrival_date <= hi:
                    detail += (f"; the bank's statements of {lo.isoformat()} to "
                               f"{hi.isoformat()} were never imported")  # fmt: skip
            for day, before in inp.bank_breaks.get(p.currency, ()):
                if before <= last and p.arrival_date <= day:
                    detail += (f"; the bank's statement of {day.isoformat()} does not open on "
                               f"the closing balance of {before.isoformat()}")  # fmt: skip
            book.flag(MISSING_IN_BANK, pid, p.amount, p.currency, payout=pid, detail=detail)
    for ref, b in sorted(open_b.items()):
        if ref not in suggested and in_period(inp, b.booking_date):
            book.flag(
                UNEXPECTED_BANK_CREDIT if b.direction == "credit" else UNEXPECTED_BANK_DEBIT,
                ref,
                b.amount,
                b.currency,
                bank=ref,
                detail=b.text[:200],
            )
    return matches, in_transit


def _group(pool, target, sides, close, suggest) -> None:  # type: ignore[no-untyped-def]
    """Combinations of 2..MAX_GROUP items of ``pool`` whose amounts sum to ``target``:
    exactly one is a match; several are each a suggestion; none, nothing."""
    pool = sorted(pool, key=lambda x: getattr(x, "id", None) or x.reference)
    if len(pool) < 2 or len(pool) > MAX_GROUP_CANDIDATES:
        return
    found = []
    for size in range(2, min(MAX_GROUP, len(pool)) + 1):
        for combo in itertools.combinations(pool, size):
            if sum(x.amount for x in combo) == target:
                found.append(combo)
    if len(found) == 1:
        ps, bs = sides(found[0])
        close(ps, bs)
    else:
        for combo in found:
            ps, bs = sides(combo)
            suggest("group", ps, bs, REASON_SEVERAL_COMBINATIONS)


def bank_day(inp: Inputs, currency: str) -> dt.date:
    """The day up to which (excluded) the bank has told what it credited in ``currency``:
    the run's ``as_of``, or the day after the last its statements cover when that is
    earlier (``Inputs.bank_covered_until``: the month's last statements not in yet; a
    statement of Friday covers the weekend after it)."""
    covered = inp.bank_covered_until.get(currency)
    if covered is None:
        return inp.as_of
    return min(inp.as_of, told_until(covered) + dt.timedelta(days=1))
