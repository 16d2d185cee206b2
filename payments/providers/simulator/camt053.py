"""The bank statement (ISO 20022 camt.053.001.08) a bank would send for the simulator's
payouts: the simulator plays the bank too, so the demo reconciles offline (pure).

One statement per bank day (a TARGET2 day, ``regie.kit.bank_days``: Monday to Friday but
1 January, Good Friday, Easter Monday, 1 May, 25 and 26 December, the days the
reconciliation's window counts too) of the period up to today, with or without entries (so
the electronic sequence numbers of successive statements have no gap); one booked entry per
payout, on the first bank day on or after its arrival (a payout arriving on a Saturday is
booked on Monday, one arriving on Good Friday on the Tuesday after): a SEPA credit transfer received, or for
a negative payout (the PSP's balance short, ``payouts``) the PSP's SEPA direct debit of the
account, a debit (``DBIT``). Everything is derived from the inputs,
so the same payouts give the same bytes:

- the statement's ``ElctrncSeqNb`` is the bank day's number since ``SEQUENCE_EPOCH`` (two
  files for consecutive periods continue each other's numbers, over weekends and TARGET2
  closing days too);
- ``OPBD`` of a day is the ``CLBD`` of the bank day before; the first day opens with
  ``opening`` (the payouts booked before it); each day's closing balance is its opening plus
  its credits less its debits, a debit balance (``DBIT``) if negative payouts overdraw it;
- creation times are the end of the (last) day, in the bank's time zone (Europe/Paris,
  see ``records.BANK_TZ``), or the time of writing for today's statement: never a time to
  come; days after today get no statement (the bank has not booked them yet).

Elements are written in the order the schema's sequences require.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from payments.providers.simulator.records import BANK_TZ, DEBTOR_NAME, PayoutRecord
from regie.kit.bank_days import bank_days_between, is_bank_day, next_bank_day
from regie.kit.money import to_decimal

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
SEQUENCE_EPOCH = dt.date(2000, 1, 1)
_END_OF_DAY = dt.time(23, 59, 59)


@dataclass(frozen=True)
class BankAccount:
    iban: str  # compact, validated (``REGIE_BANK_IBAN``)
    currency: str = "EUR"


def booking_day(arrival: dt.date) -> dt.date:
    """The bank day a credit arriving on ``arrival`` is booked: that day, or the next one."""
    return next_bank_day(arrival)


def statement_days(first: dt.date, last: dt.date, today: dt.date) -> list[dt.date]:
    """The bank days from ``first`` to ``last`` (inclusive) that are not after ``today``."""
    days, day = [], first
    while day <= min(last, today):
        if is_bank_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def sequence_number(day: dt.date) -> int:
    """The statement of bank day ``day``'s electronic sequence number: the count of bank
    days from ``SEQUENCE_EPOCH`` to ``day``, so successive bank days follow each other (a
    day the bank is closed shares the number of the bank day before it)."""
    return bank_days_between(SEQUENCE_EPOCH - dt.timedelta(days=1), day)


# What ``quirks`` adds, as a real account shows (for the demo's reconciliation tour): money a
# payout does not explain, and a payout the bank booked late
GRANT_AMOUNT = 150_000  # minor units
GRANT_TEXT = "SUBVENTION PREFECTURE ARRETE 2026-114"
LATE_DAYS = 8  # calendar days: outside the reconciliation's window of 3 business days


def bank_statement(
    payouts: Iterable[PayoutRecord],
    account: BankAccount,
    opening: int,
    first: dt.date,
    last: dt.date,
    *,
    quirks: bool = False,
    now: dt.datetime | None = None,
) -> bytes:
    """The camt.053.001.08 document for the bank days ``first`` to ``last`` (inclusive) up
    to today (``now``, the time of writing; the current time when None): ``payouts`` are
    those booked in the period on ``account`` (arriving in it, or just before it on a day
    the bank is closed); ``opening`` is the account's balance before ``first``, in minor
    units. A payout booked after the last bank day written (today, or ``last``) is left for
    a later statement.

    ``quirks``: the bank also books a grant from the prefecture on the first day (a credit
    no payout explains), and books the period's first payout ``LATE_DAYS`` after the day it
    would have booked it (the next bank day, for a weekend's arrival; at the latest on the
    last day written), as real statements sometimes do."""
    if last < first:
        raise ValueError("the period ends before it starts")
    written_at = (now or dt.datetime.now(dt.UTC)).astimezone(BANK_TZ).replace(microsecond=0)
    days = statement_days(first, last, written_at.date())
    if not days:
        raise ValueError(
            f"no bank day from {first} to {last} up to today ({written_at.date()}): "
            "a bank writes statements for its days open, Monday to Friday but TARGET2's "
            "closing days, once the day has begun"
        )
    by_day: dict[dt.date, list[PayoutRecord]] = {}
    late_done = False
    for p in sorted(payouts, key=lambda p: (p.arrival_date, p.created, p.id)):
        if p.currency != account.currency:
            raise ValueError(f"payout {p.id} is in {p.currency}, the account in {account.currency}")
        day = booking_day(p.arrival_date)
        if not first <= day or p.arrival_date > last:
            raise ValueError(f"payout {p.id} arrives outside the period")
        if quirks and not late_done:
            day, late_done = booking_day(day + dt.timedelta(days=LATE_DAYS)), True
            day = min(day, days[-1])
        if day > days[-1]:
            continue  # booked after the last statement written: a later one books it
        by_day.setdefault(day, []).append(p)
    if quirks:
        grant = PayoutRecord(
            id=f"GRANT-{days[0]:%Y%m%d}", amount=GRANT_AMOUNT, currency=account.currency,
            created=dt.datetime.combine(days[0], dt.time(9), BANK_TZ), arrival_date=days[0],
            statement_descriptor="PREFECTURE", bank_reference=f"SIMBANKGRANT{days[0]:%Y%m%d}",
        )  # fmt: skip
        by_day.setdefault(days[0], []).append(grant)
    root = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})
    message = _sub(root, "BkToCstmrStmt")
    header = _sub(message, "GrpHdr")
    _sub(header, "MsgId", f"SIMBANK-{days[0]:%Y%m%d}-{days[-1]:%Y%m%d}")
    _sub(header, "CreDtTm", _end_of(days[-1], written_at))
    balance = opening
    for day in days:
        entries = sorted(by_day.get(day, []), key=lambda p: (p.created, p.id))
        closing = balance + sum(p.amount for p in entries)
        _statement(message, account, day, balance, closing, entries, written_at)
        balance = closing
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _statement(
    message: etree._Element,
    account: BankAccount,
    day: dt.date,
    opening: int,
    closing: int,
    entries: list[PayoutRecord],
    written_at: dt.datetime,
) -> None:
    stmt = _sub(message, "Stmt")
    _sub(stmt, "Id", f"SIMBANK-{day:%Y-%m-%d}")
    _sub(stmt, "ElctrncSeqNb", str(sequence_number(day)))
    _sub(stmt, "CreDtTm", _end_of(day, written_at))
    period = _sub(stmt, "FrToDt")
    _sub(period, "FrDtTm", _at(day, dt.time()))
    _sub(period, "ToDtTm", _end_of(day, written_at))
    acct = _sub(stmt, "Acct")
    _sub(_sub(acct, "Id"), "IBAN", account.iban)
    _sub(acct, "Ccy", account.currency)
    _balance(stmt, "OPBD", opening, account.currency, day)
    _balance(stmt, "CLBD", closing, account.currency, day)
    for payout in entries:
        _entry(stmt, payout, day)


def _balance(stmt: etree._Element, code: str, amount: int, currency: str, day: dt.date) -> None:
    bal = _sub(stmt, "Bal")
    _sub(_sub(_sub(bal, "Tp"), "CdOrPrtry"), "Cd", code)
    _amount(bal, abs(amount), currency)
    _sub(bal, "CdtDbtInd", "CRDT" if amount >= 0 else "DBIT")
    _sub(_sub(bal, "Dt"), "Dt", day.isoformat())


def _entry(stmt: etree._Element, payout: PayoutRecord, day: dt.date) -> None:
    """A payout's entry: a credit transfer received from the PSP, or, for a negative payout,
    the PSP's direct debit of the account (the PSP the creditor, the account the debtor)."""
    debit = payout.amount < 0
    sign = "DBIT" if debit else "CRDT"
    ntry = _sub(stmt, "Ntry")
    _amount(ntry, abs(payout.amount), payout.currency)
    _sub(ntry, "CdtDbtInd", sign)
    _sub(_sub(ntry, "Sts"), "Cd", "BOOK")
    _sub(_sub(ntry, "BookgDt"), "Dt", day.isoformat())
    _sub(_sub(ntry, "ValDt"), "Dt", day.isoformat())
    _sub(ntry, "AcctSvcrRef", payout.bank_reference)
    domain = _sub(_sub(ntry, "BkTxCd"), "Domn")
    _sub(domain, "Cd", "PMNT")  # payments
    family = _sub(domain, "Fmly")
    # received direct debit, SEPA core; or received credit transfer, SEPA credit transfer
    _sub(family, "Cd", "RDDT" if debit else "RCDT")
    _sub(family, "SubFmlyCd", "ESDD" if debit else "ESCT")
    tx = _sub(_sub(ntry, "NtryDtls"), "TxDtls")
    _sub(_sub(tx, "Refs"), "EndToEndId", payout.id)
    _amount(tx, abs(payout.amount), payout.currency)
    _sub(tx, "CdtDbtInd", sign)
    grant = payout.id.startswith("GRANT-")
    party, text = ("PREFECTURE", GRANT_TEXT) if grant else (DEBTOR_NAME, payout.remittance)
    # the PSP debits the account as its creditor; it credits it as the transfer's debtor
    _sub(_sub(_sub(_sub(tx, "RltdPties"), "Cdtr" if debit else "Dbtr"), "Pty"), "Nm", party)
    _sub(_sub(tx, "RmtInf"), "Ustrd", text)
    what = f"PRLV SEPA /DE {party}" if debit else f"VIR SEPA RECU /DE {party}"
    _sub(ntry, "AddtlNtryInf", f"{what} /MOTIF {text}")


def _amount(parent: etree._Element, amount: int, currency: str) -> None:
    _sub(parent, "Amt", str(to_decimal(amount, currency))).set("Ccy", currency)


def _at(day: dt.date, time: dt.time) -> str:
    return dt.datetime.combine(day, time, BANK_TZ).isoformat(timespec="seconds")


def _end_of(day: dt.date, written_at: dt.datetime) -> str:
    """The end of ``day`` in the bank's time zone, or the time of writing if that is sooner
    (today's statement is not dated in the future)."""
    end = dt.datetime.combine(day, _END_OF_DAY, BANK_TZ)
    return min(end, written_at).isoformat(timespec="seconds")


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}")
    if text is not None:
        element.text = text
    return element
