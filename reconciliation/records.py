"""What matching compares: the three sides, normalised (pure dataclasses, no I/O).

Every amount is an integer in minor units of its currency; nothing here is a float.
Loaders (``reconciliation.loaders``) build these from the ledger, the PSP's settlement lines
(through the port or an uploaded Stripe CSV) and imported bank statements.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# the PSP line categories matching knows (Stripe's reporting categories, folded)
CHARGE, REFUND, DISPUTE, FEE, PAYOUT, OTHER = (
    "charge",
    "refund",
    "dispute",
    "fee",
    "payout",
    "other",
)
# a payment the payer's bank refused after the PSP counted it (Stripe's ``charge_failure``
# reporting category, its ``payment_failure_refund`` balance transaction: a SEPA debit
# returned), the PSP taking its charge's money back: a line of the payment's
CHARGE_FAILURE = "charge_failure"
CATEGORIES = (CHARGE, REFUND, DISPUTE, FEE, PAYOUT, OTHER, CHARGE_FAILURE)


@dataclass(frozen=True, slots=True)
class PspLine:
    """One balance transaction at the PSP.

    ``refs``: the ids that name the object the line moves money for, most specific first:
    a refund's or dispute's own id, then the payment's (PaymentIntent, charge). ``gross`` and
    ``net`` are signed as the PSP's balance sees them (a refund is negative); ``fee`` is what
    the PSP took (negative when it gave a fee back)."""

    id: str
    category: str
    refs: tuple[str, ...]
    gross: int
    fee: int
    net: int
    currency: str
    payout_id: str | None
    created: dt.datetime
    description: str = ""
    # a payout's own line: the day the PSP expects the money at the bank, when it says
    arrival: dt.date | None = None
    # a payout line's way, when the PSP says it (its reporting category): -1 the payout's
    # own line (the balance paid out, or, for a negative payout, made up from the bank), 1
    # its reversal (the payout failed or was canceled); 0: its sign tells (``book.direction``)
    way: int = 0


def payout_of(line: PspLine) -> str | None:
    """The payout a payout line moves money for: its own payout going out, or a failed
    payout's money coming back. Its ``payout_id`` is the payout that carried it, which for
    a failure is often the next one (Stripe pays the money back out with its next payout,
    listing the failure line under it, its source the failed payout)."""
    return line.refs[0] if line.refs else line.payout_id


@dataclass(frozen=True, slots=True)
class LedgerItem:
    """What regie's ledger booked for one PSP object.

    ``kind``: payment | refund | dispute | payout. ``ref``: the PSP's id for it (the
    provider payment id, refund id, dispute id, payout id). ``gross`` is signed as the PSP's
    balance moves (a refund negative), ``fee`` what regie booked as the PSP's fee."""

    kind: str
    ref: str
    gross: int
    fee: int
    currency: str
    entry_ids: tuple[str, ...]
    effective_at: dt.datetime
    alt_refs: tuple[str, ...] = ()
    # a payout entry's way (its kind): -1 the payout (paid, reconciled), 1 its reversal (a
    # failure); 0: its sign tells (``book.direction``)
    way: int = 0


@dataclass(frozen=True, slots=True)
class BankLine:
    """One booked bank-statement entry (a credit is money in)."""

    reference: str
    amount: int  # positive
    direction: str  # credit | debit
    currency: str
    booking_date: dt.date
    text: str  # remittance information and references, joined, for tie-breaking
    statement_id: str = ""
    # the bank's reversal of an entry (``RvslInd``): a credit it takes back comes as a debit
    reversal: bool = False


@dataclass(frozen=True, slots=True)
class Payout:
    """A payout as the PSP announced it (its own line, or the ledger's payout event).

    ``returned``: what came back to the PSP's balance when the payout failed (its failure
    lines: the bank refused the transfer); ``amount`` is what reaches the bank, net of it (0
    for a payout that failed). The payout's lines add up to ``amount + returned``."""

    id: str
    amount: int  # money sent to the bank, net of what came back (0: the payout failed)
    currency: str
    arrival_date: dt.date
    returned: int = 0


@dataclass(frozen=True, slots=True)
class Settled:
    """Payments already matched before the rounds, in bulk (PostgreSQL joins the report's
    lines with the ledger: ``reconciliation.bulk``). Only pairs that the rounds would match
    with nothing else to say are settled: one PSP charge line, one ledger payment, the same
    id, amount, currency and fee, and no other line or item naming that id. The rounds run
    on what is left and start from these counts."""

    psp_lines: int  # lines settled (left out of ``Inputs.psp_lines``)
    ledger_items: int  # ledger payments settled (left out of ``Inputs.ledger_items``)
    matched: int
    amount: dict[str, int]  # currency -> gross of the settled payments
    nets: dict[str, int]  # payout id -> net of its settled lines


@dataclass(frozen=True, slots=True)
class Inputs:
    period_from: dt.date
    period_to: dt.date  # inclusive
    psp_lines: tuple[PspLine, ...]
    ledger_items: tuple[LedgerItem, ...]
    payouts: tuple[Payout, ...]
    bank_lines: tuple[BankLine, ...]
    as_of: dt.date  # payouts expected before as_of - window and not in the bank are missing
    window_days: int = 3  # business days either side of a payout's arrival date
    confirmed: frozenset[str] = frozenset()  # suggestion keys a human confirmed
    rejected: frozenset[str] = frozenset()  # suggestion keys a human rejected
    # the PSP side is complete up to here (per currency): a ledger item after it is in
    # transit, not missing at the PSP (an uploaded payout report ends at its last payout)
    psp_covered_until: dict[str, dt.datetime] = field(default_factory=dict)
    settled: Settled | None = None  # pairs matched in bulk before the rounds
    # the uploaded report's SHA-256, when the PSP's side is a file: the checksum covers the
    # file's bytes (already hashed as the run's source) rather than its lines
    psp_file_sha256: str | None = None
    # the lines of payouts announced in the period that the PSP's side does not hold
    # (created before the period: a payout on the first of a month carries the last days of
    # the month before), asked of the PSP to check those payouts whole; only the payouts'
    # check reads them (they are their own period's lines)
    payout_lines: tuple[PspLine, ...] = ()
    # the PSP's lines of the week before the period, when its side is read from its port (a
    # report lists what it lists): a ledger entry of the period for one of them was booked
    # after it (a payment across midnight, a payout on its arrival day) and was matched in
    # the previous period's run. Matching reads them for nothing else: they are no line of
    # this period
    psp_before: tuple[PspLine, ...] = ()
    # the last day the bank's statements cover (per currency: the last closing balance's day
    # of their unbroken run from the one the bank tie-out compares, ``coverage``): a payout
    # whose window ends after it is in transit, not missing in the bank, as long as the bank
    # has not told (a run made before the month's last statements came, or with a gap)
    bank_covered_until: dict[str, dt.date] = field(default_factory=dict)
    # per currency, the spans of days no imported statement tells of (``coverage.gaps``): a
    # payout missing in the bank that was due then says so
    bank_gaps: dict[str, tuple[tuple[dt.date, dt.date], ...]] = field(default_factory=dict)
    # per currency, the statements that do not open on the closing balance of the day before
    # theirs (``coverage.breaks``: the statement's day, the day before's): a payout missing
    # in the bank that was due then says so too
    bank_breaks: dict[str, tuple[tuple[dt.date, dt.date], ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    key: str  # stable across runs: a resolution made in one run applies to the next
    category: str
    amount: int  # positive: the money at stake (a mismatch's difference)
    currency: str
    psp_reference: str | None = None
    payout_id: str | None = None
    bank_reference: str | None = None
    ledger_entry: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Side:
    """One payout or one bank credit of a suggestion, as matching saw it: its id (the
    payout's, or the bank's reference), its amount, and its day (the payout's expected
    arrival, the credit's booking day)."""

    ref: str
    amount: int
    day: dt.date


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A loose match a human confirms or rejects; never applied silently. ``amount`` is
    the bank credits' total; ``payouts`` and ``credits`` give each side item by item (in
    the order of ``payout_ids`` and ``bank_references``), so that whoever decides sees
    what differs."""

    key: str
    kind: str  # payout_bank | group
    payout_ids: tuple[str, ...]
    bank_references: tuple[str, ...]
    amount: int
    currency: str
    reason: str
    payouts: tuple[Side, ...] = ()
    credits: tuple[Side, ...] = ()

    @property
    def payout_amount(self) -> int:
        return sum(p.amount for p in self.payouts)


@dataclass(frozen=True, slots=True)
class TieOut:
    """The ledger's side against a source's: the PSP clearing account's movement against
    the PSP's lines, the bank account's balance against the statement's closing balance.
    ``in_transit``: what the ledger counts in the period that the source dates in another,
    so that the source should show ``ledger - in_transit``. The bank's: payouts the ledger
    booked into the bank by the period's end that the bank books after it. The clearing
    account's (signed): the objects both sides agree on that one side dates in the period
    and the other before or after it (``Result.clearing_cut_off``)."""

    name: str  # psp_clearing | bank
    currency: str
    ledger: int
    source: int
    in_transit: int = 0
    # the bank's: the day the closing balance compared is of (the last on or before the
    # period's end; the period's last day when no bank day comes between them, Friday's
    # balance being Saturday's), the ledger's balance read at that day's end; None for the
    # clearing account's, whose movement is the period's
    as_of: dt.date | None = None
    # the bank's, when the statement whose closing balance is compared does not add up
    # (opening balance + booked entries is another amount): (its id, that amount)
    unbalanced: tuple[str, int] | None = None
    # the bank's, when it differs by what an earlier period's bank tie-out differed by: the
    # run its difference first appeared in (its id and period: ``run_rows.carried_from``)
    carried_from: tuple[str, dt.date, dt.date] | None = None
    # the bank's, when no statement closes in the period and a later one's opening balance
    # is the period's end's (``weekend_opening``): that statement's id and the day it closes
    # on; the balance compared is its opening one, as of the period's last day
    opening_of: tuple[str, dt.date] | None = None

    @property
    def difference(self) -> int:
        return self.source - (self.ledger - self.in_transit)


@dataclass(frozen=True, slots=True)
class Result:
    matched_count: int
    matched_amount: dict[str, int]  # currency -> gross of matched PSP payments
    discrepancies: tuple[Discrepancy, ...]
    suggestions: tuple[Suggestion, ...]
    in_transit: tuple[str, ...]  # payouts not yet expected at the bank
    payout_matches: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # (payouts, bank refs)
    # per currency, what the ledger's PSP clearing account moved in the period less what the
    # PSP's lines of the period moved, for the objects the two sides agree on: one side
    # booked them across the period's edge (a payment the PSP made at 23:59:30 on the last
    # day, which regie learnt of after midnight). Counted on the pairs the rounds see: a run
    # that makes a clearing tie-out reads the PSP's lines from its port, never in bulk
    clearing_cut_off: dict[str, int] = field(default_factory=dict)
