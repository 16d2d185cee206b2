"""What ``regie bank-statement show`` prints: a JSON document and a rich table. Pure: both
are built from a ``BankStatementFile``; the command prints them.

In the JSON, amounts are integers in minor units: an entry's ``amount`` is positive with
its ``direction`` (credit or debit); a balance's ``amount`` is signed (a debit balance is
negative). Statements, balances, entries and details keep the file's order.

Both say what the file's account was checked against (``AccountCheck``): regie's bank
account as the import checks it (``camt053_account.import_account``), or that it was not
checked, where that account is not configured.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .camt053_model import CREDIT, Balance, BankStatementFile, Entry, Statement, TxDetail
from .return_reasons import reason_name, return_words
from .values import decimal_text


@dataclass(frozen=True)
class AccountCheck:
    """What ``show`` checked the file's account against, as the import does: regie's bank
    account (``REGIE_BANK_IBAN``, ``REGIE_BANK_CURRENCY``), None where it is not configured
    (then the import takes any)."""

    iban: str | None
    currency: str | None
    demo_iban: bool = False  # REGIE_BANK_IBAN not set: regie's default, the demo's account

    def lines(self) -> list[str]:
        if self.iban is None:
            account = (
                "Account not checked: REGIE_BANK_IBAN is not configured; "
                "the import takes a statement for any account."
            )
        else:
            setting = (
                "REGIE_BANK_IBAN; not set, so the demo's" if self.demo_iban else "REGIE_BANK_IBAN"
            )
            account = f"Account checked: the statements are for {self.iban}, regie's bank account ({setting})."
        if self.currency is None:
            currency = (
                "Currency not checked: REGIE_BANK_CURRENCY is not configured; "
                "the import takes a statement in any currency."
            )
        else:
            currency = (
                f"Currency checked: {self.currency}, regie's bank account's (REGIE_BANK_CURRENCY)."
            )
        return [account, currency]


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _balance_json(b: Balance) -> dict[str, Any]:
    return {
        "type": b.type,
        "amount": b.amount,
        "currency": b.currency,
        "date": _iso(b.date),
        "line": b.line,
    }


def _detail_json(d: TxDetail) -> dict[str, Any]:
    return {
        "amount": d.amount,
        "currency": d.currency,
        "direction": d.direction,
        "end_to_end_id": d.end_to_end_id,
        "remittance": list(d.remittance),
        "creditor_reference": d.creditor_reference,
        "debtor_name": d.debtor_name,
        "creditor_name": d.creditor_name,
        "additional_info": d.additional_info,
        "return": _return_json(d),
        "line": d.line,
    }


def _return_json(d: TxDetail) -> dict[str, Any] | None:
    """A returned payment's reason (``RtrInf``): its code, the code's name when it is one
    of ISO's that SEPA uses (``return_reasons``), and the bank's additional information;
    None for a transaction that is no return."""
    if not d.returned:
        return None
    return {
        "reason": d.return_reason,
        "reason_name": reason_name(d.return_reason),
        "additional_info": list(d.return_info),
    }


def _entry_json(e: Entry) -> dict[str, Any]:
    return {
        "amount": e.amount,
        "currency": e.currency,
        "direction": e.direction,
        "status": e.status,
        "reversal": e.reversal,
        "booking_date": _iso(e.booking_date),
        "booking_datetime": _iso(e.booking_datetime),
        "value_date": _iso(e.value_date),
        "value_datetime": _iso(e.value_datetime),
        "bank_reference": e.bank_reference,
        "reference": e.reference,
        "account_servicer_reference": e.account_servicer_reference,
        "bank_transaction_code": e.bank_transaction_code,
        "additional_info": e.additional_info,
        "details": [_detail_json(d) for d in e.details],
        "line": e.line,
    }


def _statement_json(s: Statement) -> dict[str, Any]:
    return {
        "id": s.id,
        "electronic_sequence": s.electronic_sequence,
        "legal_sequence": s.legal_sequence,
        "created_at": _iso(s.created_at),
        "account": {"iban": s.iban, "other_id": s.other_account_id},
        "currency": s.currency,
        "balances": [_balance_json(b) for b in s.balances],
        "entries": [_entry_json(e) for e in s.entries],
        "line": s.line,
    }


def _check_json(check: AccountCheck) -> dict[str, Any]:
    return {"iban": check.iban, "currency": check.currency, "notes": check.lines()}


def bank_statement_json(f: BankStatementFile, check: AccountCheck | None = None) -> dict[str, Any]:
    """Everything regie read, as JSON-ready data; with ``check``, what the account was
    checked against (``account_check``: ``iban`` and ``currency`` null when not checked)."""
    doc: dict[str, Any] = {
        "file": f.filename,
        "sha256": f.sha256,
        "format": "camt.053",
        "version": f.version,
        "message_id": f.message_id,
        "created_at": _iso(f.created_at),
        "statements": [_statement_json(s) for s in f.statements],
        "problems": list(f.problems),
    }
    if check is not None:
        doc["account_check"] = _check_json(check)
    return doc


# -- the table ---------------------------------------------------------------------------


def _signed(amount: int, currency: str) -> str:
    text = decimal_text(amount, currency)
    return text if amount < 0 else f"+{text}"


def _day(day: dt.date | None) -> str:
    return "" if day is None else day.isoformat()


def _detail_line(d: TxDetail) -> str:
    parts: list[str] = []
    if d.amount is not None and d.currency is not None:
        sign = {"credit": "+", "debit": "-"}.get(d.direction or "", "")
        parts.append(f"{sign}{decimal_text(d.amount, d.currency)} {d.currency}")
    names = " → ".join(n for n in (d.debtor_name, d.creditor_name) if n)
    parts += [p for p in (names, d.end_to_end_id and f"end-to-end {d.end_to_end_id}") if p]
    parts += list(d.remittance)
    if d.creditor_reference:
        parts.append(f"creditor ref {d.creditor_reference}")
    if d.additional_info:
        parts.append(d.additional_info)
    if d.returned:
        parts.append(return_words(d.return_reason, d.return_info))
    return " · ".join(parts) or "(no details)"


def _statement_table(s: Statement) -> RenderableType:
    seq = "" if s.electronic_sequence is None else f", electronic sequence {s.electronic_sequence}"
    if s.legal_sequence is not None:
        seq += f", legal sequence {s.legal_sequence}"
    heading = Text(f"Statement {s.id} (line {s.line})", style="bold")
    about = Text(f"account {s.account or '?'}, currency {s.currency or '?'}{seq}")
    balances = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="Balances", title_justify="left")
    for column in ("type", "date", "amount", "line"):
        balances.add_column(column, justify="right" if column in ("amount", "line") else "left")
    for b in s.balances:
        balances.add_row(
            Text(b.type),
            b.date.isoformat(),
            f"{_signed(b.amount, b.currency)} {b.currency}",
            str(b.line),
        )
    entries = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"Entries ({len(s.entries)})",
        title_justify="left",
    )
    for column in ("line", "booked", "value", "status", "amount"):
        right = column in ("amount", "line")
        entries.add_column(column, justify="right" if right else "left", no_wrap=True)
    entries.add_column("bank reference", overflow="fold")
    details: list[RenderableType] = []
    for e in s.entries:
        amount = e.amount if e.direction == CREDIT else -e.amount
        entries.add_row(
            str(e.line),
            _day(e.booking_date),
            _day(e.value_date),
            Text(e.status + (" reversal" if e.reversal else "")),
            f"{_signed(amount, e.currency)} {e.currency}",
            Text(e.bank_reference or ""),
        )
        about_entry = [f"entry at line {e.line}"]
        if e.bank_transaction_code:
            about_entry.append(f"code {e.bank_transaction_code}")
        if e.reference and e.account_servicer_reference:
            about_entry.append(f"entry ref {e.reference}")
        if e.booking_datetime or e.value_datetime:
            about_entry += [
                f"{what} {at.isoformat(sep=' ')}"
                for what, at in (("booked", e.booking_datetime), ("value", e.value_datetime))
                if at is not None
            ]
        if e.additional_info:
            about_entry.append(e.additional_info)
        if len(about_entry) > 1 or e.details:
            details.append(Text(" · ".join(about_entry)))
        details += [Text(f"    line {d.line}: {_detail_line(d)}") for d in e.details]
    if details:
        details.insert(0, Text("Entry details", style="italic"))
        details.append(Text(""))
    return Group(heading, about, balances, entries, *details)


def bank_statement_table(f: BankStatementFile, check: AccountCheck | None = None) -> RenderableType:
    """A readable summary: header, then each statement's balances, entries and their
    transactions, then the problems, then (with ``check``) what the account was checked
    against. Text from the file is never read as rich markup."""
    created = "" if f.created_at is None else f", created {f.created_at.isoformat(sep=' ')}"
    header = Text(
        f"{f.filename}\n"
        f"camt.053.{f.version}, message {f.message_id}{created}\n"
        f"{len(f.statements)} statement(s), sha256 {f.sha256}"
    )
    parts: list[RenderableType] = [header, Text("")]
    parts += [_statement_table(s) for s in f.statements]
    if f.problems:
        parts.append(Text(f"Problems ({len(f.problems)})", style="bold yellow"))
        parts += [Text(f"- {p}") for p in f.problems]
    else:
        parts.append(Text("No problems: the balances add up and the sequence has no gap."))
    if check is not None:
        parts += [Text(line) for line in check.lines()]
    return Group(*parts)
