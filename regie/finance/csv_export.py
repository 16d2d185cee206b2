"""The invoices CSV of the finance workspace. Pure.

Amounts are exact decimals in major units (``25.00``, from integer minor units, never a
float) beside their currency; times are UTC ISO 8601. Every cell is guarded against running
as a spreadsheet formula (``regie.kit.spreadsheet``: a payer's name or a description can
never run as one), and the file starts with the UTF-8 byte order mark Excel needs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence

from payments.service.search import InvoiceRow
from regie.kit.money import to_decimal
from regie.kit.spreadsheet import safe_cell

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
