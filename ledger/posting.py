"""Pure ledger logic: postings, the balance invariant, canonical form and hashes. No I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GENESIS = "0" * 64


class UnbalancedEntry(ValueError):
    pass


@dataclass(frozen=True)
class Posting:
    """One line: ``debit`` or ``credit`` (exactly one positive) on an account, per currency."""

    account: str
    currency: str
    debit: int = 0
    credit: int = 0

    def __post_init__(self) -> None:
        for v in (self.debit, self.credit):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise UnbalancedEntry("postings are non-negative integers of minor units")
        if (self.debit == 0) == (self.credit == 0):
            raise UnbalancedEntry("a posting is either a debit or a credit")
        if not self.account or len(self.account) > 120:
            raise UnbalancedEntry("account names are 1 to 120 characters")


def check_balanced(postings: Sequence[Posting]) -> None:
    """Debits equal credits per currency; at least two lines."""
    if len(postings) < 2:
        raise UnbalancedEntry("an entry has at least two lines")
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        totals[p.currency] += p.debit - p.credit
    bad = {c: t for c, t in totals.items() if t != 0}
    if bad:
        raise UnbalancedEntry(f"entry does not balance: {bad}")


def transfer(debit_account: str, credit_account: str, amount: int, currency: str) -> list[Posting]:
    """The common two-line entry: ``amount`` from ``credit_account`` to ``debit_account``."""
    return [
        Posting(debit_account, currency, debit=amount),
        Posting(credit_account, currency, credit=amount),
    ]


def reverse(postings: Iterable[Posting]) -> list[Posting]:
    return [Posting(p.account, p.currency, debit=p.credit, credit=p.debit) for p in postings]


#: The canonical forms a seal can be computed with. Form 1 (the first sealed entries) left
#: out the labels the exports print; form 2 adds the entry's service, invoice and
#: description; form 3 its number (``seq``: the ledger's order, which the CSV prints and the
#: FEC's EcritureNum follows). Each seal records its form, so entries sealed under an
#: earlier form still verify.
FORMS = (1, 2, 3)
CURRENT_FORM = 3


@dataclass(frozen=True)
class CanonicalEntry:
    id: str
    source_key: str
    kind: str
    effective_at: dt.datetime
    reverses_id: str | None
    lines: tuple[tuple[str, str, int, int], ...]  # account, currency, debit, credit (in line order)
    service_id: str | None = None
    invoice_id: str | None = None
    description: str = ""
    seq: int | None = None  # the entry's number (form 3)


def canonical_bytes(entry: CanonicalEntry, form: int = CURRENT_FORM) -> bytes:
    if form not in FORMS:
        raise ValueError(f"unknown canonical form {form}")
    doc: list[object] = [
        entry.id,
        entry.source_key,
        entry.kind,
        entry.effective_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        entry.reverses_id,
        [list(line) for line in entry.lines],
    ]
    if form >= 2:
        doc += [entry.service_id, entry.invoice_id, entry.description]
    if form >= 3:
        doc.append(entry.seq)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(prev_hash: str, entry: CanonicalEntry, form: int = CURRENT_FORM) -> str:
    return hashlib.sha256(prev_hash.encode() + b"|" + canonical_bytes(entry, form)).hexdigest()


# Account names (the chart of accounts in docs/architecture.md)
def receivable(service: str) -> str:
    return f"receivable:{service}"


def income(service: str) -> str:
    return f"income:{service}"


def psp(provider: str) -> str:
    return f"assets:psp:{provider}"


def bank(account: str) -> str:
    return f"assets:bank:{account}"


PSP_FEES = "expenses:psp_fees"
OVERPAYMENTS = "liabilities:overpayments"
DISPUTES = "expenses:disputes"
DISPUTE_FEES = "expenses:dispute_fees"
