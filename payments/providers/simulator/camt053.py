"""The bank statement (ISO 20022 camt.053.001.08) a bank would send for the simulator's
payouts: the simulator plays the bank too, so the demo reconciles offline (pure).

One statement per bank day of the period, with or without entries (so the electronic
sequence numbers of successive statements have no gap); one booked credit per payout.
Everything is derived from the inputs, so the same payouts give the same bytes:

- the statement's ``ElctrncSeqNb`` is the day's number since ``SEQUENCE_EPOCH`` (two
  files for consecutive periods continue each other's numbers);
- ``OPBD`` of a day is the ``CLBD`` of the day before; the first day opens with
  ``opening`` (the payouts that arrived before it); the account only ever receives
  payouts, so balances are credits;
- creation times are the end of the (last) day, in the bank's time zone (Europe/Paris,
  see ``records.BANK_TZ``).

Elements are written in the order the schema's sequences require.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from payments.providers.simulator.records import BANK_TZ, DEBTOR_NAME, PayoutRecord
from regie.kit.money import to_decimal

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
SEQUENCE_EPOCH = dt.date(2000, 1, 1)
_END_OF_DAY = dt.time(23, 59, 59)


@dataclass(frozen=True)
class BankAccount:
    iban: str  # compact, validated (``REGIE_BANK_IBAN``)
    currency: str = "EUR"


def sequence_number(day: dt.date) -> int:
    """The statement of ``day``'s electronic sequence number: 1 on ``SEQUENCE_EPOCH``."""
    return (day - SEQUENCE_EPOCH).days + 1


def bank_statement(
    payouts: Iterable[PayoutRecord],
    account: BankAccount,
    opening: int,
    first: dt.date,
    last: dt.date,
) -> bytes:
    """The camt.053.001.08 document for the days ``first`` to ``last`` (inclusive):
    ``payouts`` are those arriving in the period on ``account``; ``opening`` is the
    account's balance before ``first``, in minor units."""
    if last < first:
        raise ValueError("the period ends before it starts")
    by_day: dict[dt.date, list[PayoutRecord]] = {}
    for p in payouts:
        if p.currency != account.currency:
            raise ValueError(f"payout {p.id} is in {p.currency}, the account in {account.currency}")
        if not first <= p.arrival_date <= last:
            raise ValueError(f"payout {p.id} arrives outside the period")
        by_day.setdefault(p.arrival_date, []).append(p)
    root = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})
    message = _sub(root, "BkToCstmrStmt")
    header = _sub(message, "GrpHdr")
    _sub(header, "MsgId", f"SIMBANK-{first:%Y%m%d}-{last:%Y%m%d}")
    _sub(header, "CreDtTm", _end_of(last))
    balance = opening
    day = first
    while day <= last:
        entries = sorted(by_day.get(day, []), key=lambda p: (p.created, p.id))
        closing = balance + sum(p.amount for p in entries)
        _statement(message, account, day, balance, closing, entries)
        balance, day = closing, day + dt.timedelta(days=1)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _statement(
    message: etree._Element,
    account: BankAccount,
    day: dt.date,
    opening: int,
    closing: int,
    entries: list[PayoutRecord],
) -> None:
    stmt = _sub(message, "Stmt")
    _sub(stmt, "Id", f"SIMBANK-{day:%Y-%m-%d}")
    _sub(stmt, "ElctrncSeqNb", str(sequence_number(day)))
    _sub(stmt, "CreDtTm", _end_of(day))
    period = _sub(stmt, "FrToDt")
    _sub(period, "FrDtTm", _at(day, dt.time()))
    _sub(period, "ToDtTm", _end_of(day))
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
    ntry = _sub(stmt, "Ntry")
    _amount(ntry, payout.amount, payout.currency)
    _sub(ntry, "CdtDbtInd", "CRDT")
    _sub(_sub(ntry, "Sts"), "Cd", "BOOK")
    _sub(_sub(ntry, "BookgDt"), "Dt", day.isoformat())
    _sub(_sub(ntry, "ValDt"), "Dt", day.isoformat())
    _sub(ntry, "AcctSvcrRef", payout.bank_reference)
    domain = _sub(_sub(ntry, "BkTxCd"), "Domn")
    _sub(domain, "Cd", "PMNT")  # payments
    family = _sub(domain, "Fmly")
    _sub(family, "Cd", "RCDT")  # received credit transfer
    _sub(family, "SubFmlyCd", "ESCT")  # SEPA credit transfer
    tx = _sub(_sub(ntry, "NtryDtls"), "TxDtls")
    _sub(_sub(tx, "Refs"), "EndToEndId", payout.id)
    _amount(tx, payout.amount, payout.currency)
    _sub(tx, "CdtDbtInd", "CRDT")
    _sub(_sub(_sub(_sub(tx, "RltdPties"), "Dbtr"), "Pty"), "Nm", DEBTOR_NAME)
    _sub(_sub(tx, "RmtInf"), "Ustrd", payout.remittance)
    _sub(ntry, "AddtlNtryInf", f"VIR SEPA RECU /DE {DEBTOR_NAME} /MOTIF {payout.remittance}")


def _amount(parent: etree._Element, amount: int, currency: str) -> None:
    _sub(parent, "Amt", str(to_decimal(amount, currency))).set("Ccy", currency)


def _at(day: dt.date, time: dt.time) -> str:
    return dt.datetime.combine(day, time, BANK_TZ).isoformat(timespec="seconds")


def _end_of(day: dt.date) -> str:
    return _at(day, _END_OF_DAY)


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}")
    if text is not None:
        element.text = text
    return element
