"""The invoices CSV of the finance workspace. Pure.

Amounts are exact decimals in major units (``25.00``, from integer minor units, never a
float) beside their currency; times are UTC ISO 8601. A spreadsheet treats a cell that
starts with ``=``, ``+``, ``-`` or ``@`` (and tab or carriage return) as a formula: such a
cell is written with a leading ``'`` so that a payer's name or a description can never run
as one (CSV injection).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence

from payments.service.search import InvoiceRow
from regie.kit.money import to_decimal

COLUMNS = (
    "id",
    "number",
    "service",
    "reference",
    "description",
    "payer_name",
    "status",
    "currency",
    "amount_total",
    "amount_paid",
    "amount_refunded",
    "created_at",
    "paid_at",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """The cell as a spreadsheet will show it, never run it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _time(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else ""


def invoice_cells(row: InvoiceRow) -> list[str]:
    amount = lambda minor: f"{to_decimal(minor, row.currency):f}"  # noqa: E731
    cells = [
        row.id,
        row.number,
        row.service,
        row.reference,
        row.description,
        row.payer_name,
        row.status,
        row.currency,
        amount(row.amount_total),
        amount(row.amount_paid),
        amount(row.amount_refunded),
        _time(row.created_at),
        _time(row.paid_at),
    ]
    return [safe_cell(c) for c in cells]


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    """Rows as CSV text (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()
