"""camt.053 elements to regie's dataclasses: the reader ``camt053.parse_camt053`` drives.

Paths are child tags joined by "/" in the document's namespace; every refusal is a
``SourceError`` at the element's line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from . import values
from .camt053_model import CREDIT, DEBIT, Balance, Entry, Statement, TxDetail, entry_status
from .errors import SourceError
from .messages import Message, msg

_DIRECTIONS = {"CRDT": CREDIT, "DBIT": DEBIT}
# What regie's columns hold (``reconciliation.models``); ISO 20022 allows less (Max35Text
# for ids and references, 34 for an account), but banks exceed it and a longer value is
# stored whole up to these: never cut, since a reference cut to its first characters would
# merge two entries.
MAX_REFERENCE = 140  # NtryRef, AcctSvcrRef, Stmt/Id
MAX_ACCOUNT = 64  # Acct/Id/IBAN, Acct/Id/Othr/Id
MAX_STATUS = 35  # Sts/Cd (4 characters), Sts/Prtry (Max35Text), the text of Sts (001.02)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
# the parts a refusal names (made once: an entry is read a hundred thousand times a file)
_ENTRY, _TRANSACTION = msg("where_entry"), msg("where_transaction")
_BOOKING_DATE, _VALUE_DATE = msg("what_booking_date"), msg("what_value_date")

Element = Any  # lxml.etree._Element (lxml ships no type stubs here)


class Reader:
    """Namespace-aware finders over one document, raising ``SourceError`` at the element."""

    def __init__(self, filename: str, namespace: str, version: str) -> None:
        self.filename = filename
        self.ns = namespace
        self.version = version
        self._steps: dict[str, tuple[str, ...]] = {}
        self.tag_ntry, self.tag_bal, self.tag_stmt, self.tag_grphdr, self.tag_body = (
            f"{{{namespace}}}{name}" for name in ("Ntry", "Bal", "Stmt", "GrpHdr", "BkToCstmrStmt")
        )

    def is_body(self, el: Element) -> bool:
        """``Document/BkToCstmrStmt``."""
        parent = el.getparent()
        return el.tag == self.tag_body and parent is not None and parent.getparent() is None

    def is_statement(self, el: Element) -> bool:
        """``Document/BkToCstmrStmt/Stmt``."""
        parent = el.getparent()
        return el.tag == self.tag_stmt and parent is not None and self.is_body(parent)

    def _walk(self, el: Element, steps: tuple[str, ...]) -> Iterator[Element]:
        # lxml's iterchildren(tag) filters in C: about twice as fast as ElementPath's find()
        if not steps:
            yield el
            return
        for child in el.iterchildren(steps[0]):
            yield from self._walk(child, steps[1:])

    def _path(self, path: str) -> tuple[str, ...]:
        steps = self._steps.get(path)
        if steps is None:
            steps = self._steps[path] = tuple(f"{{{self.ns}}}{p}" for p in path.split("/"))
        return steps

    def find(self, el: Element, path: str) -> Element | None:
        """The first element at ``path`` (child tags joined by "/"), in document order."""
        steps = self._path(path)
        if len(steps) == 1:
            return next(el.iterchildren(steps[0]), None)
        return next(self._walk(el, steps), None)

    def all(self, el: Element, path: str) -> list[Element]:
        return list(self._walk(el, self._path(path)))

    def text(self, el: Element, path: str) -> str | None:
        """The stripped text at ``path``, or None when absent or empty."""
        got = self.text_at(el, path)
        return None if got is None else got[1]

    def text_at(self, el: Element, path: str) -> tuple[Element, str] | None:
        """The element at ``path`` and its stripped text (for an error naming its own line),
        or None when absent or empty."""
        found = self.find(el, path)
        text = None if found is None or found.text is None else found.text.strip()
        return None if found is None or not text else (found, text)

    def bounded_text(self, el: Element, path: str, limit: int) -> str | None:
        """``text``, refused at its own line when longer than regie stores."""
        got = self.text_at(el, path)
        if got is None:
            return None
        found, text = got
        if len(text) > limit:
            raise self.fail(found, msg("too_long", path=path, length=len(text), limit=limit))
        return text

    def first_text(self, el: Element, *paths: str, limit: int | None = None) -> str | None:
        """The first of ``paths`` with a text; refused at its own line when longer than
        ``limit``."""
        for path in paths:
            found = self.text(el, path) if limit is None else self.bounded_text(el, path, limit)
            if found is not None:
                return found
        return None

    def required(self, el: Element, path: str, where: Message) -> Element:
        found = self.find(el, path)
        if found is None:
            raise self.fail(el, msg("has_no", where=where, path=path))
        return found

    def required_text(self, el: Element, path: str, where: Message) -> str:
        found = self.text(el, path)
        if found is None:
            raise self.fail(el, msg("has_no", where=where, path=path))
        return found

    def fail(self, el: Element, message: Message) -> SourceError:
        return SourceError(self.filename, el.sourceline, message)

    # -- values --------------------------------------------------------------------------

    def datetime(self, el: Element, path: str) -> dt.datetime | None:
        """The date-time at ``path`` (``CreDtTm``), or None when absent; an error names the
        line of that element, not of its parent."""
        got = self.text_at(el, path)
        if got is None:
            return None
        found, text = got
        return values.parse_datetime(
            text, self.filename, found.sourceline, msg("what_element", name=path)
        )

    def amount(self, amt: Element) -> tuple[int, str]:
        """An ``<Amt Ccy="EUR">18.150</Amt>`` element -> (1815, "EUR")."""
        line = amt.sourceline
        code = values.currency(amt.get("Ccy"), self.filename, line)
        return values.minor_units(amt.text, code, self.filename, line), code

    def direction(self, el: Element, where: Message) -> str:
        code = self.required_text(el, "CdtDbtInd", where)
        if code not in _DIRECTIONS:
            raise self.fail(el, msg("bad_direction", where=where, code=code))
        return _DIRECTIONS[code]

    def when(self, el: Element | None, what: Message) -> tuple[dt.date | None, dt.datetime | None]:
        """A ``Dt`` or ``DtTm`` choice -> (its day, its date-time if it had one)."""
        if el is None:
            return None, None
        day = self.find(el, "Dt")
        if day is not None:
            return values.parse_date(day.text, self.filename, day.sourceline, what), None
        moment = self.find(el, "DtTm")
        if moment is not None:
            at = values.parse_datetime(moment.text, self.filename, moment.sourceline, what)
            return at.date(), at
        raise self.fail(el, msg("no_day", what=what))

    def sequence(self, el: Element, path: str) -> int | None:
        got = self.text_at(el, path)
        if got is None:
            return None
        found, text = got
        if not (text.isascii() and text.isdigit()) or len(text) > 18:  # not "²", not "٤٢"
            raise self.fail(found, msg("not_whole_number", path=path, value=text))
        return int(text)

    # -- the message's parts -------------------------------------------------------------

    def header(self, header: Element) -> tuple[str, dt.datetime | None]:
        message_id = self.required_text(header, "MsgId", msg("where_group_header"))
        return message_id, self.datetime(header, "CreDtTm")

    def statement(
        self, st: Element, balances: tuple[Balance, ...], entries: tuple[Entry, ...]
    ) -> Statement:
        """The statement's own fields; its balances and entries were read as they ended."""
        ccy = self.find(st, "Acct/Ccy")
        account_currency = self.text(st, "Acct/Ccy")
        if ccy is not None and account_currency is not None:
            values.currency(account_currency, self.filename, ccy.sourceline)
        self.required_text(st, "Id", msg("where_statement"))
        return Statement(
            id=self.bounded_text(st, "Id", MAX_REFERENCE) or "",
            electronic_sequence=self.sequence(st, "ElctrncSeqNb"),
            legal_sequence=self.sequence(st, "LglSeqNb"),
            created_at=self.datetime(st, "CreDtTm"),
            iban=self.bounded_text(st, "Acct/Id/IBAN", MAX_ACCOUNT),
            other_account_id=self.bounded_text(st, "Acct/Id/Othr/Id", MAX_ACCOUNT),
            currency=account_currency or _balances_currency(balances),
            balances=balances,
            entries=entries,
            line=st.sourceline,
        )

    def balance(self, bal: Element) -> Balance:
        kind = self.first_text(bal, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry")
        if kind is None:
            raise self.fail(bal, msg("balance_no_type"))
        where = msg("where_balance", kind=kind)
        amount, code = self.amount(self.required(bal, "Amt", where))
        direction = self.direction(bal, where)
        day, _ = self.when(self.required(bal, "Dt", where), msg("what_balance_date"))
        assert day is not None
        return Balance(
            type=kind,
            amount=amount if direction == CREDIT else -amount,
            currency=code,
            date=day,
            line=bal.sourceline,
        )

    def entry(self, ntry: Element) -> Entry:
        amount, code = self.amount(self.required(ntry, "Amt", _ENTRY))
        status = self.first_text(ntry, "Sts/Cd", "Sts/Prtry", "Sts", limit=MAX_STATUS)
        if status is None:
            raise self.fail(ntry, msg("entry_no_status"))
        reversal = self.text(ntry, "RvslInd")
        if reversal is not None and reversal.lower() not in _BOOLEANS:
            raise self.fail(ntry, msg("bad_reversal", value=reversal))
        booking_date, booking_at = self.when(self.find(ntry, "BookgDt"), _BOOKING_DATE)
        value_date, value_at = self.when(self.find(ntry, "ValDt"), _VALUE_DATE)
        if booking_date is None and value_date is None:
            raise self.fail(ntry, msg("entry_no_date"))
        return Entry(
            reference=self.bounded_text(ntry, "NtryRef", MAX_REFERENCE),
            account_servicer_reference=self.bounded_text(ntry, "AcctSvcrRef", MAX_REFERENCE),
            amount=amount,
            currency=code,
            direction=self.direction(ntry, _ENTRY),
            status=entry_status(status),  # one form, whatever the bank wrote: every reader agrees
            booking_date=booking_date,
            value_date=value_date,
            booking_datetime=booking_at,
            value_datetime=value_at,
            reversal=reversal is not None and _BOOLEANS[reversal.lower()],
            bank_transaction_code=self.transaction_code(ntry),
            details=tuple(self.detail(t) for t in self.all(ntry, "NtryDtls/TxDtls")),
            line=ntry.sourceline,
            additional_info=self.text(ntry, "AddtlNtryInf"),
        )

    def transaction_code(self, ntry: Element) -> str | None:
        domain = self.text(ntry, "BkTxCd/Domn/Cd")
        if domain is not None:
            parts = [
                domain,
                self.text(ntry, "BkTxCd/Domn/Fmly/Cd"),
                self.text(ntry, "BkTxCd/Domn/Fmly/SubFmlyCd"),
            ]
            return "/".join(p for p in parts if p is not None)
        return self.text(ntry, "BkTxCd/Prtry/Cd")

    def detail(self, tx: Element) -> TxDetail:
        amt, path = next(
            (
                (found, path)
                for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt")
                if (found := self.find(tx, path)) is not None
            ),
            (None, None),
        )
        amount, code = (None, None) if amt is None else self.amount(amt)
        direction = None
        if self.find(tx, "CdtDbtInd") is not None:
            direction = self.direction(tx, _TRANSACTION)
        return TxDetail(
            amount=amount,
            currency=code,
            end_to_end_id=self.text(tx, "Refs/EndToEndId"),
            remittance=tuple(
                u.text.strip() for u in self.all(tx, "RmtInf/Ustrd") if u.text and u.text.strip()
            ),
            creditor_reference=self.text(tx, "RmtInf/Strd/CdtrRefInf/Ref"),
            debtor_name=self.party_name(tx, "Dbtr"),
            creditor_name=self.party_name(tx, "Cdtr"),
            line=tx.sourceline,
            direction=direction,
            additional_info=self.text(tx, "AddtlTxInf"),
            instructed=path == "AmtDtls/InstdAmt/Amt",
            **self.return_info(tx),
        )

    def return_info(self, tx: Element) -> dict[str, Any]:
        """A returned payment's ``RtrInf`` (001.02 to 001.08 alike): its reason code, or the
        bank's own, and its additional information's lines; nothing without it."""
        rtr = self.find(tx, "RtrInf")
        if rtr is None:
            return {}
        return {
            "return_reason": self.first_text(rtr, "Rsn/Cd", "Rsn/Prtry"),
            "return_info": tuple(
                t.text.strip() for t in self.all(rtr, "AddtlInf") if t.text and t.text.strip()
            ),
        }

    def party_name(self, tx: Element, role: str) -> str | None:
        # up to 001.07: RltdPties/Dbtr/Nm; 001.08: RltdPties/Dbtr/Pty/Nm (or Agt/FinInstnId/Nm)
        base = f"RltdPties/{role}"
        return self.first_text(tx, f"{base}/Nm", f"{base}/Pty/Nm", f"{base}/Agt/FinInstnId/Nm")


def _balances_currency(balances: tuple[Balance, ...]) -> str | None:
    """A statement without ``Acct/Ccy``: the currency of its booked balances, if only one."""
    found = {b.currency for b in balances if b.type in ("OPBD", "PRCD", "CLBD")}
    return found.pop() if len(found) == 1 else None
