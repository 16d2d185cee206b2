"""What identifies a bank-statement entry within its account, and how a statement issued
again reads (pure).

An entry's key is the account servicer's reference (``AcctSvcrRef``) when the bank gives
one: it names one entry of the account (followed by its status while it is not booked:
``ASR-1#PDNG``, so that its booking later is counted, ``with_status``). Some banks give one
reference to several entries of a statement (a transaction and its fee): those are separate
entries, each counted by the statement's balances, so the second is ``ASR-1#2``, the third
``ASR-1#3`` (numbered within the statement, its pages together: the reference in another
statement, of this file or another, is the same entry). Without it, the entry is identified by what it is:
its booking day, direction, amount and currency, and a digest of everything else the bank
wrote about it (value date, status, reversal, transaction code, remittance, parties,
references), numbered by occurrence among identical entries of the same file:
``2014-12-31/CRDT/8.85EUR/1a2b3c4d5e/1``, after the entry's own reference (``NtryRef``) when
it has one (``7/2014-12-31/CRDT/…``): many banks number ``NtryRef`` within each statement
(1, 2, 3… every day), so it alone would take the next day's entry 1 for today's.

So the same entry in an overlapping file sent again (another day's file covering the same
days, a statement issued again) has the same key and is counted once, two identical card
payments of one day are two entries, and an entry differing in anything (another amount, a
later day) is never taken for one already imported, whatever the statement's ``<Id>`` (banks
reuse one id every day; a paginated statement repeats it on each page). This is how
accounting software de-duplicates statements without references (a checksum of the
booking's content). The statement's id and position were the key before: a second page, or
the next day of a bank reusing its id, lost its entries as "duplicates".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import replace
from typing import NamedTuple

from reconciliation.sources.camt053_checks import next_page
from reconciliation.sources.camt053_model import BOOKED, Entry, Statement
from reconciliation.sources.values import decimal_text, money_text


def _iso(value: object) -> str | None:
    return None if value is None else value.isoformat()  # type: ignore[attr-defined]


def content_digest(e: Entry) -> str:
    """Ten hex digits of SHA-256 over what the bank wrote about the entry beyond its day,
    direction and amount."""
    about = [
        _iso(e.value_date),
        _iso(e.booking_datetime),
        _iso(e.value_datetime),
        e.status,
        e.reversal,
        e.bank_transaction_code,
        e.additional_info,
        [
            [d.amount, d.currency, d.direction, d.end_to_end_id, list(d.remittance),
             d.creditor_reference, d.debtor_name, d.creditor_name, d.additional_info]
            for d in e.details
        ],
    ]  # fmt: skip
    text = json.dumps(about, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


# an entry reference (NtryRef) longer than this is written as a digest in the key, which must
# fit the 140 characters of ``bank_entries.bank_reference`` with the content after it
_SHORT_REF = 80


def _content(st: Statement) -> object:
    """What a statement says, wherever it stands in its file (its lines left out)."""
    return (
        st.id,
        st.electronic_sequence,
        tuple(replace(b, line=0) for b in st.balances),
        tuple(
            replace(e, line=0, details=tuple(replace(d, line=0) for d in e.details))
            for e in st.entries
        ),
    )


def entry_keys(statements: Iterable[Statement]) -> list[str]:
    """Each entry's key, in file order (see the module's docstring). A statement repeated
    in the file (the same id, sequence number, balances and entries) gives its entries the
    keys they had the first time: they are duplicates, counted once (numbered on, they
    were new entries, counted twice)."""
    keys: list[str] = []
    seen: dict[str, int] = {}
    before: dict[object, list[str]] = {}  # a statement's content -> its entries' keys
    servicer: dict[str, int] = {}  # within a statement: a reference key -> its entries
    last: Statement | None = None
    for st in statements:
        same = _content(st)
        if same in before:
            keys += before[same]
            continue
        if last is None or not next_page(last, st):
            servicer = {}
        last = st
        start = len(keys)
        for e in st.entries:
            if e.account_servicer_reference:
                key = with_status(e.account_servicer_reference, e.status)
                servicer[key] = servicer.get(key, 0) + 1
                keys.append(nth(key, servicer[key]))
                continue
            day = e.booking_date or e.value_date
            sign = "CRDT" if e.direction == "credit" else "DBIT"
            base = (
                f"{_iso(day)}/{sign}/{decimal_text(e.amount, e.currency)}{e.currency}/"
                f"{content_digest(e)}"
            )
            if e.reference:
                ref = e.reference
                if len(ref) > _SHORT_REF:
                    ref = "#" + hashlib.sha256(ref.encode()).hexdigest()[:20]
                base = f"{ref}/{base}"
            seen[base] = seen.get(base, 0) + 1
            keys.append(f"{base}/{seen[base]}")
        before[same] = keys[start:]
    return keys


# the longest key ``bank_entries.bank_reference`` keeps
MAX_KEY = 140


def with_status(reference: str, status: str) -> str:
    """The key of an entry the bank gives its reference: the reference itself once booked
    (``BOOK``); before (``PDNG``, ``INFO``), the reference and the status, so that the same
    reference booked in a later statement is another entry, counted then (a review found
    the booked entry skipped as a "duplicate" of the pending one, and its money never in a
    run). A key longer than its column is a digest."""
    if status == BOOKED:
        return reference
    key = f"{reference}#{status}"
    return key if len(key) <= MAX_KEY else "#" + hashlib.sha256(key.encode()).hexdigest()


def nth(key: str, n: int) -> str:
    """The key of the ``n``-th entry of a statement under one reference key: the key
    itself for the first (as imported before such entries were told apart), ``key#n`` after
    it; a digest when longer than its column."""
    if n == 1:
        return key
    numbered = f"{key}#{n}"
    if len(numbered) <= MAX_KEY:
        return numbered
    return "#" + hashlib.sha256(numbered.encode()).hexdigest()


def legacy_keys(statements: Iterable[Statement]) -> list[str | None]:
    """Each entry's key as imports before 3 December 2026 stored it when it is not its key
    now: the bare entry reference (NtryRef) of an entry without the account servicer's
    reference. An entry stored so before is the same entry only with the same amount,
    direction and currency (``imports`` checks)."""
    return [
        e.reference if e.reference and not e.account_servicer_reference else None
        for st in statements
        for e in st.entries
    ]


def rebooked_problem(ref: str, day: dt.date, first_day: dt.date) -> str:
    """An entry imported before (its bank reference) that a file books on another day: it is
    still that entry, counted once, on the day first imported; reported, since a bank moving
    an entry's booking day is unusual and the runs read the first day."""
    return (
        f"entry {ref} is booked on {day.isoformat()} in this file and was imported before as "
        f"booked on {first_day.isoformat()}: the first booking day is kept"
    )


class Earlier(NamedTuple):
    """The latest import of a statement (``bank_repository.earlier_closing``): its file's name,
    its closing balance (amount, currency, ISO day) and its creation time as stored
    (``created_text``), or None."""

    filename: str
    amount: int
    currency: str
    day: str
    created: str | None


def created_text(st: Statement, file_created: dt.datetime | None) -> str | None:
    """A statement's creation time as stored: its ``CreDtTm``, else its file's, ISO, with
    the offset the bank wrote (none when it wrote none)."""
    at = st.created_at or file_created
    return None if at is None else at.isoformat()


def issued_earlier(created: str | None, earlier: Earlier | None) -> bool:
    """Whether a statement created at ``created`` is an older issue than the one imported
    before: both times known and comparable (both with an offset, or both without, as one
    bank writes them), and this one strictly earlier. Otherwise the import order decides
    (the later import is the later issue)."""
    if created is None or earlier is None or earlier.created is None:
        return False
    mine, theirs = dt.datetime.fromisoformat(created), dt.datetime.fromisoformat(earlier.created)
    if (mine.tzinfo is None) != (theirs.tzinfo is None):
        return False
    return mine < theirs


def reissue_problem(
    st: Statement, earlier: Earlier | None, new_entries: int, created: str | None = None
) -> str | None:
    """A statement imported before (the same id, closing day and electronic sequence
    number if it has one) that comes again with other content: its closing
    balance differs, or it adds entries. Unusual for a final camt.053, so reported. The
    closing balance the tie-out uses is the later issue's: this import's, unless it was
    created before the one imported (``issued_earlier``: files uploaded out of order).

    ``earlier``: the latest import of that statement; ``new_entries``: how many of its
    entries this import adds; ``created``: this statement's creation time (``created_text``)."""
    closing = st.closing
    if earlier is None or closing is None:
        return None
    if earlier.amount == closing.amount and new_entries == 0:
        return None
    seq = (
        "" if st.electronic_sequence is None else f" (electronic sequence {st.electronic_sequence})"
    )
    noun = "entry" if new_entries == 1 else "entries"
    added = f"{new_entries} {noun} not in it and " if new_entries else ""
    before = money_text(earlier.amount, earlier.currency)
    now = f"closing balance {money_text(closing.amount, closing.currency)} on {closing.date.isoformat()}"
    if issued_earlier(created, earlier):
        return (
            f"statement {st.id}{seq} was imported before from {earlier.filename}, created "
            f"{earlier.created}, with closing balance {before} on {earlier.day}; this file "
            f"issues it earlier, created {created}, with {added}{now}: the closing balance of "
            "the later issue is kept"
        )
    return (
        f"statement {st.id}{seq} was imported before from {earlier.filename} with closing "
        f"balance {before} on {earlier.day}; this file issues it again with {added}{now}: "
        "the later closing balance is used"
    )


__all__ = [
    "Earlier",
    "content_digest",
    "created_text",
    "entry_keys",
    "issued_earlier",
    "legacy_keys",
    "nth",
    "reissue_problem",
    "with_status",
]
