"""What matching's rounds share (pure): the discrepancy categories, business days, the
book the rounds write their findings into, the ledger's payouts summed per payout, the PSP's
lines one per balance transaction, and which way a line or an entry moves money."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence

from reconciliation.records import (
    CHARGE,
    CHARGE_FAILURE,
    DISPUTE,
    REFUND,
    Discrepancy,
    Inputs,
    LedgerItem,
    PspLine,
    Suggestion,
)
from regie.kit.bank_days import add_bank_days, bank_days_between

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

KIND_OF = {CHARGE: "payment", CHARGE_FAILURE: "payment", REFUND: "refund", DISPUTE: "dispute"}
MAX_GROUP = 4  # the largest group of payouts (or credits) one bank credit (or payout) may join
MAX_GROUP_CANDIDATES = 12  # beyond this, combinations are not searched (suggest nothing)


def business_days_between(a: dt.date, b: dt.date) -> int:
    """Bank days (TARGET2's: Monday to Friday but its closing days, ``regie.kit.bank_days``)
    after the earlier date up to the later one (0 for the same day)."""
    return bank_days_between(a, b)


def add_business_days(day: dt.date, n: int) -> dt.date:
    """The ``n``-th bank day after ``day``."""
    return add_bank_days(day, n)


def told_until(day: dt.date) -> dt.date:
    """The last day a bank statement closing on ``day`` tells of: the bank books nothing on
    the weekend or the TARGET2 closing days after it, so Friday's closing balance is
    Sunday's too, and Thursday 24 December's is Sunday the 27th's."""
    return add_business_days(day, 1) - dt.timedelta(days=1)


class Book:
    """Collects the outcome while the rounds run."""

    def __init__(self) -> None:
        self.matched_count = 0
        self.matched_amount: dict[str, int] = defaultdict(int)
        self.discrepancies: list[Discrepancy] = []
        self.suggestions: list[Suggestion] = []
        # per currency, the clearing account's timing difference (``Result.clearing_cut_off``)
        self.cut_off: dict[str, int] = defaultdict(int)

    def cross(self, item: LedgerItem, sign: int) -> None:
        """``item``, which the PSP dates on the other side of the period's edge, counted in
        the cut-off: ``sign`` 1 when the ledger's movement of the period holds it, -1 when
        the PSP's lines of the period do (the ledger booked it before or after). Its
        movement on the clearing account is its gross less the PSP's fee."""
        self.cut_off[item.currency] += sign * (item.gross - item.fee)

    def flag(self, category: str, key: str, amount: int, currency: str, **refs: object) -> None:
        self.discrepancies.append(
            Discrepancy(
                key=discrepancy_key(category, key, abs(amount), currency),
                category=category,
                amount=abs(amount),
                currency=currency,
                psp_reference=opt(refs.get("psp")),
                payout_id=opt(refs.get("payout")),
                bank_reference=opt(refs.get("bank")),
                ledger_entry=opt(refs.get("entry")),
                detail=str(refs.get("detail") or ""),
            )
        )


# a discrepancy's key is at most this long (``models.ReconDiscrepancy.key``)
MAX_KEY = 300


def discrepancy_key(category: str, item: str, amount: int, currency: str) -> str:
    """The stable key of a discrepancy, by which a decision on it holds in later runs: its
    category, the item (``charge:pi_…``, ``payout:po_…``) and its amount and currency. The
    amount is part of it: the same item found off by another amount is another discrepancy,
    which a note written for the first does not explain (a review found a 5,000.00 €
    discrepancy shown as resolved by a note written for 5.00 €). A key longer than its
    column is its category and the SHA-256 of the whole."""
    key = f"{category}:{item}@{amount} {currency}"
    if len(key) <= MAX_KEY:
        return key
    return f"{category}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def opt(value: object) -> str | None:
    return None if value is None else str(value)


def in_period(inp: Inputs, when: dt.datetime | dt.date) -> bool:
    day = when.date() if isinstance(when, dt.datetime) else when
    return inp.period_from <= day <= inp.period_to


def ledger_payouts(items: Iterable[LedgerItem]) -> dict[str, LedgerItem]:
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


def unique_lines(lines: Iterable[PspLine]) -> list[PspLine]:
    """One line per balance transaction id (overlapping reports repeat lines)."""
    seen: dict[str, PspLine] = {}
    for line in lines:
        seen.setdefault(line.id, line)
    return sorted(seen.values(), key=lambda x: x.id)


def direction(x: PspLine | LedgerItem) -> int:
    """Which way a line or an entry moves the PSP's balance: -1 out (a refund, a dispute's
    withdrawal and its fee), 1 back in (a refund's failure, a dispute won and its fee given
    back). A refund or a dispute has at most one of each at the PSP, often in two periods:
    each is compared with the ledger's entries that move money its way, whenever the ledger
    booked them (the ledger is read a week either side of the period), and never with the
    other way's, which is another period's.

    The gross tells the way, the fee only when there is no gross (a dispute's fee charged,
    or given back, on its own line or entry): a fee is compared with the money it goes with,
    and a fee booked wrong, even beyond the refund (10.00 refunded, 15.00 of fee booked as
    given back), is that refund's ``fee_mismatch``, not a failure of it.

    A payout's way is what it is, when its source says (``way``): -1 the payout, 1 its
    reversal (a failure), whatever their signs. A negative payout (refunds beyond the
    balance, made up from the bank) moves money into the balance, and its failure out."""
    if x.way:
        return x.way
    return 1 if (x.gross or -x.fee) > 0 else -1


def agree(lines: Sequence[PspLine], items: Sequence[LedgerItem]) -> bool:
    """Whether the PSP's lines and the ledger's entries move the clearing account by the
    same amount in one currency (the line's net; the entry's gross less its fee): only
    what agrees is counted in the clearing cut-off. A difference is a discrepancy of the
    run that holds both sides, and counted in neither run's cut-off, so the two runs'
    tie-outs together show it."""
    currencies = {x.currency for x in lines} | {i.currency for i in items}
    return len(currencies) == 1 and sum(x.net for x in lines) == sum(i.gross - i.fee for i in items)


def names_payout(text: str, payout_id: str) -> bool:
    """Whether a bank entry's text names a payout: its id anywhere in it, as written, or in
    capitals in a text written all in capitals (many banks write the remittance so: the
    payer's "STRIPE po_1PqRs…" reaches the statement as "STRIPE PO_1PQRS…")."""
    if payout_id in text:
        return True
    return text == text.upper() and payout_id.upper() in text
