"""Matching: the PSP's lines, regie's ledger and the bank, strict rounds first (pure).

1. PSP payment lines <-> ledger payments, by the PSP's id: amount, currency and fee compared.
2. PSP refund and dispute lines <-> ledger refunds and disputes, likewise (summed per object:
   a dispute's withdrawal and its reinstatement are two lines).
3. PSP lines grouped by payout <-> the payout's amount (gross - fees - refunds - disputes =
   net), and the payout <-> the ledger's payout.
4. Payout <-> bank credit by amount and a window of business days around the arrival date;
   the payout id in the remittance information breaks ties.
5. One bank credit paying several payouts, one payout split over several credits: matched as
   a group when exactly one combination's sum agrees; several are suggestions.

Whatever is not certain is a ``Suggestion`` a human confirms; what is left over is a
``Discrepancy``. The same inputs give the same result: every collection is walked in a
sorted order, never in a set's or a dict's insertion order of unsorted input.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence

from reconciliation.records import (
    CHARGE,
    DISPUTE,
    FEE,
    PAYOUT,
    REFUND,
    BankLine,
    Discrepancy,
    Inputs,
    LedgerItem,
    Payout,
    PspLine,
    Result,
    Suggestion,
)

MISSING_IN_LEDGER = "missing_in_ledger"
MISSING_AT_PSP = "missing_at_psp"
AMOUNT_MISMATCH = "amount_mismatch"
CURRENCY_MISMATCH = "currency_mismatch"
FEE_MISMATCH = "fee_mismatch"
DUPLICATE = "duplicate"
PAYOUT_MISMATCH = "payout_mismatch"
MISSING_IN_BANK = "missing_in_bank"
UNEXPECTED_BANK_CREDIT = "unexpected_bank_credit"
UNEXPECTED_BANK_DEBIT = "unexpected_bank_debit"
DISCREPANCY_CATEGORIES = (
    MISSING_IN_LEDGER,
    MISSING_AT_PSP,
    AMOUNT_MISMATCH,
    CURRENCY_MISMATCH,
    FEE_MISMATCH,
    DUPLICATE,
    PAYOUT_MISMATCH,
    MISSING_IN_BANK,
    UNEXPECTED_BANK_CREDIT,
    UNEXPECTED_BANK_DEBIT,
)

_KIND_OF = {CHARGE: "payment", REFUND: "refund", DISPUTE: "dispute"}
MAX_GROUP = 4  # the largest group of payouts (or credits) one bank credit (or payout) may join
MAX_GROUP_CANDIDATES = 12  # beyond this, combinations are not searched (suggest nothing)


def business_days_between(a: dt.date, b: dt.date) -> int:
    """Weekdays from the earlier date to the later one (0 for the same day)."""
    lo, hi = (a, b) if a <= b else (b, a)
    days = (hi - lo).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for i in range(1, rest + 1):
        if (lo + dt.timedelta(days=i)).weekday() < 5:
            count += 1
    return count


def add_business_days(day: dt.date, n: int) -> dt.date:
    while n > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


class _Book:
    """Collects the outcome while the rounds run."""

    def __init__(self) -> None:
        self.matched_count = 0
        self.matched_amount: dict[str, int] = defaultdict(int)
        self.discrepancies: list[Discrepancy] = []
        self.suggestions: list[Suggestion] = []

    def flag(self, category: str, key: str, amount: int, currency: str, **refs: object) -> None:
        self.discrepancies.append(
            Discrepancy(
                key=f"{category}:{key}",
                category=category,
                amount=abs(amount),
                currency=currency,
                psp_reference=_opt(refs.get("psp")),
                payout_id=_opt(refs.get("payout")),
                bank_reference=_opt(refs.get("bank")),
                ledger_entry=_opt(refs.get("entry")),
                detail=str(refs.get("detail") or ""),
            )
        )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _in_period(inp: Inputs, when: dt.datetime | dt.date) -> bool:
    day = when.date() if isinstance(when, dt.datetime) else when
    return inp.period_from <= day <= inp.period_to


def reconcile(inp: Inputs) -> Result:
    book = _Book()
    _objects(inp, book)
    _payout_integrity(inp, book)
    payout_matches, in_transit = _payouts_to_bank(inp, book)
    discrepancies = sorted(book.discrepancies, key=lambda d: (d.category, d.key))
    return Result(
        matched_count=book.matched_count,
        matched_amount=dict(sorted(book.matched_amount.items())),
        discrepancies=tuple(discrepancies),
        suggestions=tuple(sorted(book.suggestions, key=lambda s: s.key)),
        in_transit=tuple(sorted(in_transit)),
        payout_matches=tuple(payout_matches),
    )


# -- rounds 1 and 2: payments, refunds, disputes -------------------------------------------


def _unique_lines(lines: Iterable[PspLine]) -> list[PspLine]:
    """One line per balance transaction id (overlapping reports repeat lines)."""
    seen: dict[str, PspLine] = {}
    for line in lines:
        seen.setdefault(line.id, line)
    return sorted(seen.values(), key=lambda x: x.id)


def _objects(inp: Inputs, book: _Book) -> None:
    ledger_by_ref: dict[tuple[str, str], list[LedgerItem]] = defaultdict(list)
    for item in sorted(
        inp.ledger_items, key=lambda i: (i.kind, i.ref, i.effective_at, i.entry_ids)
    ):
        if item.kind == "payout":
            continue
        ledger_by_ref[(item.kind, item.ref)].append(item)
        for alt in item.alt_refs:
            if alt != item.ref:
                ledger_by_ref[(item.kind, alt)].append(item)
    # the PSP's lines per object (a dispute has several lines; a payment should have one)
    groups: dict[tuple[str, str], list[PspLine]] = defaultdict(list)
    for line in _unique_lines(inp.psp_lines):
        kind = _KIND_OF.get(line.category)
        if kind is None or not line.refs:
            continue
        ref = next((r for r in line.refs if (kind, r) in ledger_by_ref), line.refs[0])
        groups[(kind, ref)].append(line)
    used: set[int] = set()
    for (kind, ref), lines in sorted(groups.items()):
        if kind == "payment" and len(lines) > 1:
            for extra in lines[1:]:
                book.flag(
                    DUPLICATE,
                    f"psp:{extra.id}",
                    extra.gross,
                    extra.currency,
                    psp=ref,
                    detail=f"the PSP charged {ref} again in {extra.id}",
                )
            lines = lines[:1]
        _compare(inp, book, kind, ref, lines, ledger_by_ref.get((kind, ref), []), used)
    for (kind, ref), items in sorted(ledger_by_ref.items()):
        if kind == "payment":
            distinct = {id(i): i for i in items if i.ref == ref}
            for dup in list(distinct.values())[1:]:
                if id(dup) not in used:
                    used.add(id(dup))
                    book.flag(
                        DUPLICATE,
                        f"ledger:{dup.entry_ids[0]}",
                        dup.gross,
                        dup.currency,
                        psp=ref,
                        entry=dup.entry_ids[0],
                        detail=f"the ledger books payment {ref} twice",
                    )
        for item in items:
            if id(item) in used or item.ref != ref:
                continue
            used.add(id(item))
            covered = inp.psp_covered_until.get(item.currency)
            if not _in_period(inp, item.effective_at):
                continue
            if covered is not None and item.effective_at > covered:
                continue  # not yet in what the PSP reported: in transit
            book.flag(
                MISSING_AT_PSP,
                f"{kind}:{ref}",
                item.gross,
                item.currency,
                psp=ref,
                entry=item.entry_ids[0],
                detail=f"the ledger books {kind} {ref}; the PSP has no such line",
            )


def _compare(
    inp: Inputs,
    book: _Book,
    kind: str,
    ref: str,
    lines: Sequence[PspLine],
    candidates: Sequence[LedgerItem],
    used: set[int],
) -> None:
    currency = lines[0].currency
    gross = sum(x.gross for x in lines)
    fee = sum(x.fee for x in lines)
    items = [i for i in candidates if id(i) not in used]
    if kind == "payment":
        items = items[:1]
    if not items:
        book.flag(
            MISSING_IN_LEDGER,
            f"{kind}:{ref}",
            gross,
            currency,
            psp=ref,
            payout=lines[0].payout_id,
            detail=f"the PSP moved money for {kind} {ref}; the ledger has nothing",
        )
        return
    for i in items:
        used.add(id(i))
    entry = items[0].entry_ids[0]
    booked_currency = items[0].currency
    booked_gross = sum(i.gross for i in items)
    booked_fee = sum(i.fee for i in items)
    refs = {"psp": ref, "entry": entry, "payout": lines[0].payout_id}
    if booked_currency != currency:
        book.flag(
            CURRENCY_MISMATCH,
            f"{kind}:{ref}",
            gross,
            currency,
            **refs,
            detail=f"PSP {currency}, ledger {booked_currency}",
        )
    elif booked_gross != gross:
        book.flag(
            AMOUNT_MISMATCH,
            f"{kind}:{ref}",
            gross - booked_gross,
            currency,
            **refs,
            detail=f"PSP {gross}, ledger {booked_gross} (minor units)",
        )
    elif booked_fee != fee:
        book.flag(
            FEE_MISMATCH,
            f"{kind}:{ref}",
            fee - booked_fee,
            currency,
            **refs,
            detail=f"PSP fee {fee}, ledger fee {booked_fee} (minor units)",
        )
    else:
        book.matched_count += 1
        if kind == "payment":
            book.matched_amount[currency] += gross


# -- round 3: payouts against their lines and the ledger -----------------------------------


def _payout_integrity(inp: Inputs, book: _Book) -> None:
    nets: dict[str, int] = defaultdict(int)
    currency_of: dict[str, str] = {}
    for line in _unique_lines(inp.psp_lines):
        if line.payout_id and line.category != PAYOUT:
            nets[line.payout_id] += line.net
            currency_of[line.payout_id] = line.currency
    announced = {p.id: p for p in inp.payouts}
    for pid in sorted(nets):
        p = announced.get(pid)
        if p is not None and p.amount != nets[pid]:
            book.flag(
                PAYOUT_MISMATCH,
                f"lines:{pid}",
                p.amount - nets[pid],
                p.currency,
                payout=pid,
                detail=f"payout {p.amount}, its lines' net {nets[pid]} (minor units)",
            )
    ledger = _ledger_payouts(inp.ledger_items)
    for pid, p in sorted(announced.items()):
        item = ledger.get(pid)
        if item is None:
            if p.arrival_date <= inp.as_of:
                book.flag(
                    MISSING_IN_LEDGER,
                    f"payout:{pid}",
                    p.amount,
                    p.currency,
                    payout=pid,
                    detail="the PSP paid this payout out; the ledger has no payout entry",
                )
        elif -item.gross != p.amount or item.currency != p.currency:
            book.flag(
                PAYOUT_MISMATCH,
                f"ledger:{pid}",
                p.amount + item.gross,
                p.currency,
                payout=pid,
                entry=item.entry_ids[0],
                detail=f"payout {p.amount} {p.currency}, ledger {-item.gross} {item.currency}",
            )
    for pid, item in sorted(ledger.items()):
        if pid not in announced and _in_period(inp, item.effective_at):
            covered = inp.psp_covered_until.get(item.currency)
            if covered is None or item.effective_at <= covered:
                book.flag(
                    MISSING_AT_PSP,
                    f"payout:{pid}",
                    item.gross,
                    item.currency,
                    payout=pid,
                    entry=item.entry_ids[0],
                    detail="the ledger books a payout the PSP does not list",
                )


def _ledger_payouts(items: Iterable[LedgerItem]) -> dict[str, LedgerItem]:
    """One item per payout: its paid, failed and reconciled entries summed."""
    out: dict[str, LedgerItem] = {}
    for i in sorted(items, key=lambda i: (i.ref, i.effective_at, i.entry_ids)):
        if i.kind != "payout":
            continue
        prev = out.get(i.ref)
        out[i.ref] = (
            i
            if prev is None
            else dataclasses.replace(
                prev, gross=prev.gross + i.gross, entry_ids=prev.entry_ids + i.entry_ids
            )
        )
    return out


# -- rounds 4 and 5: payouts against bank credits ------------------------------------------


def suggestion_key(payout_ids: Iterable[str], bank_refs: Iterable[str]) -> str:
    return f"payout-bank:{'+'.join(sorted(payout_ids))}:{'+'.join(sorted(bank_refs))}"


def _near(inp: Inputs, p: Payout, b: BankLine) -> bool:
    return (
        b.currency == p.currency
        and business_days_between(p.arrival_date, b.booking_date) <= inp.window_days
    )


def _payouts_to_bank(
    inp: Inputs, book: _Book
) -> tuple[list[tuple[tuple[str, ...], tuple[str, ...]]], list[str]]:
    announced = {p.id for p in inp.payouts}
    booked = [
        Payout(i.ref, -i.gross, i.currency, i.effective_at.date())
        for i in _ledger_payouts(inp.ledger_items).values()
        if i.ref not in announced and i.gross < 0
    ]  # the ledger's payouts the PSP side did not list still explain bank credits
    payouts = sorted([*inp.payouts, *booked], key=lambda p: (p.arrival_date, p.id))
    seen_refs: set[str] = set()
    credits: list[BankLine] = []
    debits: list[BankLine] = []
    for b in sorted(inp.bank_lines, key=lambda b: (b.booking_date, b.reference)):
        if b.reference in seen_refs:
            continue
        seen_refs.add(b.reference)
        (credits if b.direction == "credit" else debits).append(b)
    open_p: dict[str, Payout] = {p.id: p for p in payouts}
    open_b: dict[str, BankLine] = {b.reference: b for b in credits}
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
        if key in inp.rejected:
            return
        first = open_p.get(ps[0]) or next(p for p in payouts if p.id == ps[0])
        amount = sum(open_b[r].amount for r in bs if r in open_b)
        book.suggestions.append(
            Suggestion(
                key, kind, tuple(sorted(ps)), tuple(sorted(bs)), amount, first.currency, reason
            )
        )
        suggested.update(ps)
        suggested.update(bs)

    # what a human confirmed before is matched first, if both sides are still there
    for key in sorted(inp.confirmed):
        if not key.startswith("payout-bank:"):
            continue
        _, ps_text, bs_text = key.split(":", 2)
        ps, bs = ps_text.split("+"), bs_text.split("+")
        if all(p in open_p for p in ps) and all(b in open_b for b in bs):
            close(ps, bs)
    # round 4: one payout, one credit
    for p in payouts:
        if p.id not in open_p:
            continue
        near = [b for b in open_b.values() if b.amount == p.amount and _near(inp, p, b)]
        named = [b for b in near if p.id in b.text]
        if len(named) == 1:
            close([p.id], [named[0].reference])
            continue
        rivals = [
            q
            for q in open_p.values()
            if q.amount == p.amount and any(_near(inp, q, b) for b in near)
        ]
        if (
            len(near) == 1
            and len(rivals) == 1
            and not any(q.id in near[0].text for q in payouts if q.id != p.id)
        ):
            close([p.id], [near[0].reference])
        elif near:
            for b in near:
                suggest("payout_bank", [p.id], [b.reference], "same amount, several candidates")
    # a credit naming a payout whose amount differs: shown to a human, never matched
    for p in payouts:
        if p.id in open_p and p.id not in suggested:
            for b in list(open_b.values()):
                if p.id in b.text and b.currency == p.currency and b.reference not in suggested:
                    suggest(
                        "payout_bank",
                        [p.id],
                        [b.reference],
                        "the credit names the payout; its amount or date is off",
                    )
    # round 5: groups
    for b in sorted(open_b.values(), key=lambda b: (b.booking_date, b.reference)):
        if b.reference not in open_b or b.reference in suggested:
            continue
        pool = [p for p in open_p.values() if _near(inp, p, b) and p.id not in suggested]
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
        pool_b = [b for b in open_b.values() if _near(inp, p, b) and b.reference not in suggested]
        _group(
            pool_b,
            p.amount,
            lambda combo, p=p: ([p.id], [b.reference for b in combo]),
            close,
            suggest,
        )
    # what is left over
    in_transit: list[str] = []
    for pid, p in sorted(open_p.items()):
        if pid in suggested:
            continue
        if add_business_days(p.arrival_date, inp.window_days) >= inp.as_of:
            in_transit.append(pid)
        elif _in_period(inp, p.arrival_date):
            book.flag(
                MISSING_IN_BANK,
                pid,
                p.amount,
                p.currency,
                payout=pid,
                detail=f"expected at the bank around {p.arrival_date.isoformat()}",
            )
    for ref, b in sorted(open_b.items()):
        if ref not in suggested and _in_period(inp, b.booking_date):
            book.flag(
                UNEXPECTED_BANK_CREDIT,
                ref,
                b.amount,
                b.currency,
                bank=ref,
                detail=b.text[:200],
            )
    for b in debits:
        if _in_period(inp, b.booking_date):
            book.flag(
                UNEXPECTED_BANK_DEBIT,
                b.reference,
                b.amount,
                b.currency,
                bank=b.reference,
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
            suggest("group", ps, bs, "several combinations sum to the amount")


__all__ = [
    "DISCREPANCY_CATEGORIES",
    "FEE",
    "add_business_days",
    "business_days_between",
    "reconcile",
    "suggestion_key",
]
