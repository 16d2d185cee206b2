"""What regie reads from a camt.053 statement: frozen dataclasses, amounts in minor units.

The parser is ``camt053.parse_camt053``; these types are re-exported there. Every object
keeps ``line``, the line of its element in the file, and every tuple keeps the file's order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CREDIT = "credit"
DEBIT = "debit"
OPENING_TYPES = ("OPBD", "PRCD")  # opening booked; previous closing booked
CLOSING_TYPE = "CLBD"
BOOKED = "BOOK"  # an entry's status once booked (``entry_status``)
# ISO 20022's entry status codes (ExternalEntryStatus1Code), and the words banks write for
# them in ``Sts/Prtry`` or the text of ``Sts``, in any case
_STATUSES = {
    "BOOK": BOOKED, "BOOKED": BOOKED, "PDNG": "PDNG", "PENDING": "PDNG",
    "INFO": "INFO", "INFORMATION": "INFO", "FUTR": "FUTR", "FUTURE": "FUTR",
}  # fmt: skip


def entry_status(written: str) -> str:
    """An entry's status as every reader compares it: ISO's code when what the bank wrote
    names one (``BOOK`` for ``<Sts><Cd>BOOK</Cd></Sts>``, ``<Sts>BOOK</Sts>``,
    ``<Sts><Prtry>BOOKED</Prtry></Sts>`` or ``booked``); else as written (a bank's own
    status, neither booked nor dropped)."""
    return _STATUSES.get(written.strip().upper(), written)


@dataclass(frozen=True, slots=True)
class Balance:
    type: str  # the ISO code (OPBD, PRCD, CLBD, CLAV, FWAV, ITBD, …) or the proprietary one
    amount: int  # signed: a DBIT balance is negative
    currency: str
    date: dt.date  # Dt/Dt, or the day of Dt/DtTm as written
    line: int


@dataclass(frozen=True, slots=True)
class TxDetail:
    """One transaction of an entry's batch (NtryDtls/TxDtls)."""

    amount: int | None  # positive; TxDtls/Amt (v3+) or AmtDtls/TxAmt/Amt or AmtDtls/InstdAmt/Amt
    currency: str | None
    end_to_end_id: str | None
    remittance: tuple[str, ...]  # RmtInf/Ustrd lines
    creditor_reference: str | None  # the first RmtInf/Strd/CdtrRefInf/Ref
    debtor_name: str | None
    creditor_name: str | None
    line: int
    direction: str | None = None  # TxDtls/CdtDbtInd (v3+): "credit" | "debit"
    additional_info: str | None = None  # AddtlTxInf
    # the amount is AmtDtls/InstdAmt, what the payer instructed (before the bank's charges
    # or a conversion), not the transaction's amount as booked
    instructed: bool = False
    # a returned payment (an R-transaction): RtrInf/Rsn/Cd (AC04, AM04, …) or a bank's own
    # RtrInf/Rsn/Prtry, and RtrInf/AddtlInf's lines; the original transfer's end-to-end id
    # is ``end_to_end_id``. None and () for a transaction that is no return
    return_reason: str | None = None
    return_info: tuple[str, ...] = ()

    @property
    def returned(self) -> bool:
        return self.return_reason is not None or bool(self.return_info)


@dataclass(frozen=True, slots=True)
class Entry:
    reference: str | None  # NtryRef
    account_servicer_reference: str | None  # AcctSvcrRef
    amount: int  # positive; see direction
    currency: str
    direction: str  # "credit" | "debit" (the movement itself, reversals included)
    # BOOK, PDNG, INFO, FUTR (``entry_status``: Sts/Cd in v8, the text of Sts in v2, or a
    # bank's word for one of them in any case), else a bank's own status as written
    status: str
    booking_date: dt.date | None
    value_date: dt.date | None
    booking_datetime: dt.datetime | None  # set when the file gives BookgDt/DtTm
    value_datetime: dt.datetime | None  # set when the file gives ValDt/DtTm
    reversal: bool  # RvslInd
    bank_transaction_code: str | None  # Domn/Cd/Fmly/Cd/SubFmlyCd joined by "/", or Prtry/Cd
    details: tuple[TxDetail, ...]
    line: int
    additional_info: str | None = None  # AddtlNtryInf

    @property
    def bank_reference(self) -> str | None:
        """The bank's key for this entry (de-duplication across overlapping statements)."""
        return self.account_servicer_reference or self.reference

    @property
    def signed_amount(self) -> int:
        return self.amount if self.direction == CREDIT else -self.amount

    @property
    def booked(self) -> bool:
        return self.status == BOOKED


@dataclass(frozen=True, slots=True)
class Statement:
    id: str
    electronic_sequence: int | None
    legal_sequence: int | None
    created_at: dt.datetime | None
    iban: str | None
    other_account_id: str | None
    currency: str | None  # Acct/Ccy; when absent, the opening/closing balances' one currency
    balances: tuple[Balance, ...]
    entries: tuple[Entry, ...]
    line: int

    @property
    def account(self) -> str | None:
        return self.iban or self.other_account_id

    @property
    def opening(self) -> Balance | None:
        """The first OPBD balance, else the first PRCD (previous closing booked)."""
        for kind in OPENING_TYPES:
            for b in self.balances:
                if b.type == kind:
                    return b
        return None

    @property
    def closing(self) -> Balance | None:
        """The first CLBD balance."""
        return next((b for b in self.balances if b.type == CLOSING_TYPE), None)


@dataclass(frozen=True, slots=True)
class BankStatementFile:
    filename: str
    sha256: str
    version: str  # "001.02" … "001.08"
    message_id: str
    created_at: dt.datetime | None
    statements: tuple[Statement, ...]
    problems: tuple[str, ...]  # consistency findings, not errors: the file was read
