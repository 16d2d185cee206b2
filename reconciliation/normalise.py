"""Each source's rows, folded onto matching's records (pure).

- the PSP port's ``SettlementLine`` (Stripe's balance transactions, the simulator's);
- a row of Stripe's itemised payout reconciliation report;
- a booked camt.053 entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

from payments.providers.base import SettlementLine
from reconciliation.book import direction
from reconciliation.records import (
    CHARGE,
    CHARGE_FAILURE,
    DISPUTE,
    FEE,
    OTHER,
    PAYOUT,
    REFUND,
    BankLine,
    Payout,
    PspLine,
    payout_of,
)
from reconciliation.sources.camt053_model import Entry
from reconciliation.sources.return_reasons import return_words
from reconciliation.sources.stripe_csv import PayoutReportRow

# Stripe's reporting categories (and the port's kinds) -> matching's categories
_CATEGORY = {
    "charge": CHARGE,
    "payment": CHARGE,
    "refund": REFUND,
    "refund_failure": REFUND,
    "charge_failure": CHARGE_FAILURE,
    "payment_failure_refund": CHARGE_FAILURE,
    "dispute": DISPUTE,
    "dispute_reversal": DISPUTE,
    "payout": PAYOUT,
    "payout_reversal": PAYOUT,
    "fee": FEE,
    "stripe_fee": FEE,
}


def category(word: str | None) -> str:
    return _CATEGORY.get((word or "").lower(), OTHER)


# a payout line's way by its reporting category (``PspLine.way``): Stripe's ``payout`` is the
# payout's own balance transaction, ``payout_reversal`` a failed or canceled payout's money
# coming back (https://docs.stripe.com/reports/reporting-categories)
_PAYOUT_WAY = {"payout": -1, "payout_reversal": 1}


def payout_way(reporting_category: str | None) -> int:
    return _PAYOUT_WAY.get((reporting_category or "").lower(), 0)


def _refs(*ids: str | None) -> tuple[str, ...]:
    out: list[str] = []
    for i in ids:
        if i and i not in out:
            out.append(i)
    return tuple(out)


def from_port(line: SettlementLine) -> PspLine:
    # (the port folds a failed payment's line into the refunds; its category tells)
    failed = (line.reporting_category or "").lower() == CHARGE_FAILURE
    cat = CHARGE_FAILURE if failed else category(line.type)
    source = line.source_id
    if cat == PAYOUT:  # the payout it moves money for: its source (a failure's is the
        refs = _refs(source or line.payout_id)  # payout that failed), not its carrier
    else:
        refs = _refs(source if cat in (REFUND, DISPUTE) else None, line.provider_payment_id, source)
    return PspLine(
        id=line.id,
        category=cat,
        refs=refs,
        gross=line.amount,
        fee=line.fee,
        net=line.net,
        currency=line.currency.upper(),
        payout_id=line.payout_id,
        created=line.created,
        arrival=line.arrival_date,
        way=payout_way(line.reporting_category) if cat == PAYOUT else 0,
    )


def payouts_from_lines(lines: Iterable[PspLine]) -> list[Payout]:
    """The PSP's payouts, from its own payout lines: a payout is announced by its own line
    (money leaving the PSP balance; coming in from the bank for a negative payout), expected
    at the bank on the day the PSP says (else the day its line was made); its failure lines
    (Stripe's ``payout_failure``, the money back, naming the payout) offset it: a payout
    that failed reaches the bank with nothing (``Payout.returned``). Which line is which is
    its reporting category (``PspLine.way``), else its sign."""
    out: dict[str, Payout] = {}
    back: dict[str, int] = {}
    for line in lines:
        pid = payout_of(line) if line.category == PAYOUT and line.payout_id else None
        if pid is None:
            continue
        if direction(line) == -1:
            day = line.arrival or line.created.date()
            out.setdefault(pid, Payout(pid, -line.net, line.currency, day))
        else:  # (a failure carried by the next payout is the failed one's, its source)
            back[pid] = back.get(pid, 0) + line.net
    payouts = [
        replace(p, amount=p.amount - back[p.id], returned=back[p.id]) if back.get(p.id) else p
        for p in out.values()
    ]
    return sorted(payouts, key=lambda p: (p.arrival_date, p.id))


def payouts_short(lines: Iterable[PspLine], payouts: Iterable[Payout]) -> list[str]:
    """The payouts some of whose lines are in ``lines`` but do not add up to them (what it
    was sent for, ``amount + returned``): the PSP's side is read by the time its lines were
    created, and a payout carries lines created before it, maybe before the period."""
    nets: dict[str, int] = {}
    for line in {x.id: x for x in lines}.values():
        if line.payout_id and (line.category != PAYOUT or payout_of(line) != line.payout_id):
            nets[line.payout_id] = nets.get(line.payout_id, 0) + line.net
    return sorted(p.id for p in payouts if p.id in nets and nets[p.id] != p.amount + p.returned)


def from_report(row: PayoutReportRow) -> PspLine:
    cat = category(row.reporting_category)
    if cat in (REFUND, DISPUTE):
        refs = _refs(row.source_id, row.payment_intent_id, row.charge_id)
    else:
        refs = _refs(row.payment_intent_id, row.charge_id, row.source_id)
    return PspLine(
        id=row.balance_transaction_id,
        category=cat,
        refs=refs,
        gross=row.gross,
        fee=row.fee,
        net=row.net,
        currency=row.currency.upper(),
        payout_id=row.payout_id,
        created=row.created,
        description=row.description or "",
        way=payout_way(row.reporting_category) if cat == PAYOUT else 0,
    )


def report_payouts(
    nets: dict[str, int], first: dict[str, tuple[str, dt.date]], back: dict[str, int]
) -> list[Payout]:
    """A report's payouts: each the net of its rows (in the currency and on the day of its
    first row), less what came back of it (``back``: the failure rows naming it that
    another payout carried, ``failure_back``). Stripe gives a failed or canceled payout's
    money back with its ``failure_balance_transaction`` ("reversed the initial balance
    transaction, and puts the funds from the failed payout back in your balance",
    https://docs.stripe.com/api/payouts/object), of reporting category ``payout_reversal``
    (https://docs.stripe.com/reports/reporting-categories) and source the failed payout,
    which the next automatic payout carries: a report listing the failed payout's own rows
    (its ``automatic_payout_id`` is "the payout associated with this balance transaction",
    https://docs.stripe.com/reports/report-types/payout-reconciliation) holds a payout that
    reached the bank with nothing (``Payout.returned``), as the port's lines say
    (``payouts_from_lines``)."""
    out = [
        Payout(pid, net - back.get(pid, 0), *first[pid], returned=back.get(pid, 0))
        for pid, net in nets.items()
    ]
    return sorted(out, key=lambda p: (p.arrival_date, p.id))


def failure_back(line: PspLine) -> tuple[str, int] | None:
    """The payout a report row gives money back for, and how much: a payout's reversal
    (``book.direction``; negative for a negative payout) that another payout carries."""
    if line.category != PAYOUT or direction(line) != 1 or not line.payout_id:
        return None
    pid = payout_of(line)
    return (pid, line.net) if pid and pid != line.payout_id else None


class ReportFolder:
    """Folds report rows into ``PspLine``s one at a time, keeping what the payouts need (an
    itemised report lists each payout's balance transactions: the payout is their net,
    arriving on its effective date, less what came back of it: ``report_payouts``). Every
    row is added: the reader has refused a report that lists a balance transaction twice or
    a payout's lines in two currencies (``stripe_csv._Once``)."""

    def __init__(self) -> None:
        self._nets: dict[str, int] = {}
        self._first: dict[str, tuple[str, dt.date]] = {}
        self._back: dict[str, int] = {}

    def add(self, row: PayoutReportRow) -> PspLine:
        line = from_report(row)
        if row.payout_id:
            self._nets[row.payout_id] = self._nets.get(row.payout_id, 0) + row.net
            if row.payout_id not in self._first:
                when = row.payout_effective_at or row.created
                self._first[row.payout_id] = (row.currency.upper(), when.date())
            back = failure_back(line)
            if back is not None:
                self._back[back[0]] = self._back.get(back[0], 0) + back[1]
        return line

    def payouts(self) -> list[Payout]:
        return report_payouts(self._nets, self._first, self._back)


def payouts_from_report(rows: Iterable[PayoutReportRow]) -> list[Payout]:
    folder = ReportFolder()
    for row in rows:
        folder.add(row)
    return folder.payouts()


def entry_text(entry: Entry) -> str:
    """What the bank wrote about an entry, for the finance officer (an unexpected credit's
    or debit's detail) and for tie-breaking by payout id: each transaction's remittance and
    references, its additional information (``AddtlTxInf``), then the entry's own
    (``AddtlNtryInf``, often all a bank's fee has), each text once; first, a returned
    payment's reason (``TxDtls/RtrInf``: ``returned AC04 (account closed): …``), which an
    unexplained return's detail then begins with. (An entry's key never reads it:
    ``statement_keys``.)"""
    parts: list[str] = []
    for d in entry.details:
        said = return_words(d.return_reason, d.return_info) if d.returned else None
        if said and said not in parts:
            parts.append(said)
    for d in entry.details:
        extras = (d.creditor_reference, d.end_to_end_id, d.debtor_name, d.additional_info)
        for part in (*d.remittance, *extras):
            if part and part not in parts:
                parts.append(part)
    if entry.additional_info and entry.additional_info not in parts:
        parts.append(entry.additional_info)
    return " | ".join(parts)


def from_entry(entry: Entry, statement_id: str) -> BankLine | None:
    """A booked entry as a bank line; None for one not booked (pending, information)."""
    day = entry.booking_date or entry.value_date
    if not entry.booked or day is None or not entry.bank_reference:
        return None
    # CdtDbtInd is the movement itself; a reversal (RvslInd) of a credit comes as a debit
    direction = entry.direction
    return BankLine(
        reference=entry.bank_reference,
        amount=entry.amount,
        direction=direction,
        currency=entry.currency,
        booking_date=day,
        text=entry_text(entry),
        statement_id=statement_id,
        reversal=entry.reversal,
    )
