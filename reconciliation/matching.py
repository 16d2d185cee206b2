"""Matching: the PSP's lines, regie's ledger and the bank, strict rounds first (pure).

1. PSP payment lines <-> ledger payments, by the PSP's id: amount, currency and fee compared.
2. PSP refund and dispute lines <-> ledger refunds and disputes, likewise (summed per object:
   a dispute's withdrawal and its reinstatement are two lines). Only the ledger's entries
   that move money the way the PSP's lines of the run do are summed with them: a refund's
   failure or a dispute's reinstatement in the next period is that period's, against its
   own PSP line (``book.direction``). A PSP line the ledger has no kind of entry for (a fee
   on its own line, an adjustment) is missing in the ledger.
3. PSP lines grouped by payout <-> the payout's amount (gross - fees - refunds - disputes =
   net), and the payout <-> the ledger's payout (its entries of the period and, of those
   after it, the ones moving money as the PSP's side of the run shows: a failure in the
   next period is that period's). A ledger payout whose PSP line is of the week before the
   period was matched in that period's run (``payout_rounds``).
4. Payout <-> bank credit by amount and a window of business days around the arrival date;
   the payout id in the remittance information breaks ties.
5. One bank credit paying several payouts, one payout split over several credits: matched as
   a group when exactly one combination's sum agrees; several are suggestions.

Whatever is not certain is a ``Suggestion`` a human confirms; what is left over is a
``Discrepancy``. The same inputs give the same result: every collection is walked in a
sorted order, never in a set's or a dict's insertion order of unsorted input.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from reconciliation.banking import payouts_to_bank, suggestion_key
from reconciliation.book import (
    AMOUNT_MISMATCH,
    CURRENCY_MISMATCH,
    DISCREPANCY_CATEGORIES,
    DUPLICATE,
    FEE_MISMATCH,
    KIND_OF,
    MISSING_AT_PSP,
    MISSING_IN_LEDGER,
    Book,
    add_business_days,
    agree,
    business_days_between,
    direction,
    in_period,
    unique_lines,
)
from reconciliation.payout_rounds import payout_cut_off, payout_integrity
from reconciliation.records import CHARGE_FAILURE, PAYOUT, Inputs, LedgerItem, PspLine, Result


def reconcile(inp: Inputs) -> Result:
    book = Book()
    if inp.settled is not None:
        book.matched_count = inp.settled.matched
        book.matched_amount.update(inp.settled.amount)
    _objects(inp, book)
    _unexplained(inp, book)
    payout_integrity(inp, book)
    payout_cut_off(inp, book)
    payout_matches, in_transit = payouts_to_bank(inp, book)
    discrepancies = sorted(book.discrepancies, key=lambda d: (d.category, d.key))
    return Result(
        matched_count=book.matched_count,
        matched_amount=dict(sorted(book.matched_amount.items())),
        discrepancies=tuple(discrepancies),
        suggestions=tuple(sorted(book.suggestions, key=lambda s: s.key)),
        in_transit=tuple(sorted(in_transit)),
        payout_matches=tuple(payout_matches),
        clearing_cut_off={cur: n for cur, n in sorted(book.cut_off.items()) if n},
    )


# -- rounds 1 and 2: payments, refunds, disputes -------------------------------------------


def _objects(inp: Inputs, book: Book) -> None:
    ledger_by_ref: dict[tuple[str, str], list[LedgerItem]] = defaultdict(list)
    late: list[LedgerItem] = []  # payments' fees booked after their success
    for item in sorted(
        inp.ledger_items, key=lambda i: (i.kind, i.ref, i.effective_at, i.entry_ids)
    ):
        if item.kind == "payout":
            continue
        if item.kind == "payment" and not item.gross and item.fee:
            late.append(item)
            continue
        ledger_by_ref[(item.kind, item.ref)].append(item)
        for alt in item.alt_refs:
            if alt != item.ref:
                ledger_by_ref[(item.kind, alt)].append(item)
    for fee in late:
        _late_fee(ledger_by_ref[("payment", fee.ref)], fee)
    # the PSP's lines per object (a dispute has several lines; a payment should have one)
    groups: dict[tuple[str, str], list[PspLine]] = defaultdict(list)
    for line in unique_lines(inp.psp_lines):
        kind = KIND_OF.get(line.category)
        if kind is None or not line.refs:
            continue
        ref = next((r for r in line.refs if (kind, r) in ledger_by_ref), line.refs[0])
        groups[(kind, ref)].append(line)
    # what the PSP did in the days before the period (``Inputs.psp_before``), per object and
    # way: the ledger's entry of the period for it was booked after it, across midnight, and
    # is the previous period's, matched (or found to differ) in its run
    earlier: dict[tuple[str, str, int], list[PspLine]] = defaultdict(list)
    for line in unique_lines(inp.psp_before):
        if line.category in KIND_OF:
            for r in line.refs:
                earlier[(KIND_OF[line.category], r, direction(line))].append(line)
    used: set[int] = set()
    for (kind, ref), lines in sorted(groups.items()):
        if kind == "payment" and any(x.category == CHARGE_FAILURE for x in lines):
            lines = _failed(book, ref, lines, ledger_by_ref.get((kind, ref), []))
            if not lines:
                continue
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
        missing: dict[tuple[int, str], list[LedgerItem]] = defaultdict(list)
        previous: dict[int, list[LedgerItem]] = defaultdict(list)  # booked after its line
        for item in items:
            if id(item) in used or item.ref != ref:
                continue
            used.add(id(item))
            covered = inp.psp_covered_until.get(item.currency)
            if not in_period(inp, item.effective_at):
                continue
            if covered is not None and item.effective_at > covered:
                continue  # not yet in what the PSP reported: in transit
            if (kind, ref, direction(item)) in earlier:
                previous[direction(item)].append(item)  # its PSP line is the previous period's
                continue
            missing[(direction(item), item.currency)].append(item)
        for way, booked in sorted(previous.items()):
            if agree(earlier[(kind, ref, way)], booked):
                for item in booked:
                    book.cross(item, 1)
        # one discrepancy for each way the money moved: a dispute's withdrawal and its fee
        # are two entries for what is one line at the PSP (the withdrawal's entry is named)
        for (_way, currency), found in sorted(missing.items()):
            gross = sum(i.gross for i in found)
            main = max(found, key=lambda i: abs(i.gross))
            book.flag(
                MISSING_AT_PSP,
                f"{kind}:{ref}",
                gross or sum(i.fee for i in found),  # a fee alone: the fee is at stake
                currency,
                psp=ref,
                entry=main.entry_ids[0],
                detail=f"the ledger books {kind} {ref}; the PSP has no such line",
            )


def _late_fee(items: list[LedgerItem], fee: LedgerItem) -> None:
    """A payment's fee the PSP reported after its success was booked, on an entry of its own
    (no money of the payment: gross 0), counted with the payment's entry in its currency, as
    a fee known at the success is counted: one item of the payment, whose fee is the PSP
    line's. Alone when the ledger has no such entry of the payment (then it is compared, or
    missing at the PSP, as such)."""
    for n, item in enumerate(items):
        if item.ref == fee.ref and item.currency == fee.currency and item.gross:
            items[n] = replace(
                item, fee=item.fee + fee.fee, entry_ids=item.entry_ids + fee.entry_ids
            )
            return
    items.append(fee)


def _failed(
    book: Book, ref: str, lines: Sequence[PspLine], booked: Sequence[LedgerItem]
) -> list[PspLine]:
    """A payment the payer's bank refused after the PSP counted it (a SEPA debit returned:
    ``records.CHARGE_FAILURE``), the PSP taking the charge's money back. regie books a
    payment when it succeeds, so the ledger usually has nothing for it: its charge and its
    failure cancel out, and what is left (the fee the PSP kept) is ``missing_in_ledger``,
    named by the payment. A failure whose charge is another period's, or of a payment the
    ledger booked (whose charge is then compared as usual), is the money taken back, missing
    in the ledger. Gives the charge lines left to compare (none once said)."""
    failures = [x for x in lines if x.category == CHARGE_FAILURE]
    charges = [x for x in lines if x.category != CHARGE_FAILURE]
    both = [*charges, *failures]
    if charges and not booked and sum(x.gross for x in both) == 0:
        net = sum(x.net for x in both)
        if net:
            book.flag(
                MISSING_IN_LEDGER,
                f"failed:{ref}",
                net,
                both[0].currency,
                psp=ref,
                payout=failures[0].payout_id,
                detail=f"payment {ref} failed after the PSP counted it (the payer's bank "
                f"refused the debit); the PSP kept {-net} of fees (minor units), the "
                "ledger books nothing for it",
            )
        return []
    book.flag(
        MISSING_IN_LEDGER,
        f"failed:{ref}",
        sum(x.net for x in failures),
        failures[0].currency,
        psp=ref,
        payout=failures[0].payout_id,
        detail=f"payment {ref} failed after the PSP counted it (the payer's bank refused the "
        "debit): the PSP took its money back",
    )
    return charges


def _compare(
    inp: Inputs,
    book: Book,
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
    else:  # the ledger's entries that move money as the PSP's lines here do (``book.direction``)
        ways = {direction(x) for x in lines}
        items = [i for i in items if direction(i) in ways]
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
        for i in items:  # the PSP's line is the period's; an entry booked before or after
            if not in_period(inp, i.effective_at):
                book.cross(i, -1)


def _unexplained(inp: Inputs, book: Book) -> None:
    """The period's lines the ledger books nothing for: a fee the PSP charged on its own line
    (Stripe's Radar or Billing fees, network costs, tax on fees), an adjustment, funds held
    in reserve, a top-up, and a payment, refund or dispute line naming no object. Each moved
    money in or out of the PSP's balance, and so in or out of the payout that carries it; the
    payout, the bank's credit and the ledger's payout entry all agree with it, so nothing
    else would say that the PSP's clearing account now holds an amount that left it (a run
    on an uploaded report has no clearing tie-out). Each is ``missing_in_ledger`` of its net,
    for the officer to book by hand or explain."""
    for line in unique_lines(inp.psp_lines):
        kind = KIND_OF.get(line.category)
        if line.category == PAYOUT or (kind is not None and line.refs) or not line.net:
            continue
        book.flag(
            MISSING_IN_LEDGER,
            f"psp:{line.id}",
            line.net,
            line.currency,
            psp=line.refs[0] if line.refs else line.id,
            payout=line.payout_id,
            detail=f"the PSP's {line.category} line {line.id} moved {line.net} {line.currency}"
            " (minor units); the ledger books nothing for it",
        )


__all__ = [
    "DISCREPANCY_CATEGORIES",
    "add_business_days",
    "business_days_between",
    "reconcile",
    "suggestion_key",
]
