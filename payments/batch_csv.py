"""The CSV of ``regie invoices import``: one invoice per line, turned into the items of a
batch (the body of ``POST /v1/invoices`` each). Pure: text in, items out; the service
validates them like the API's.

Columns, by header name (any order; empty cells are left out):

- ``reference`` (required), ``description`` (required), ``amount`` (required, an integer
  in the currency's minor unit: ``2500`` is 25.00 EUR), ``currency`` (default ``EUR``);
- ``payer_name`` (required), ``payer_email``, ``payer_address``, ``payer_company_id``,
  ``payer_vat_number``;
- ``expires_at`` (ISO 8601 with a zone), ``locale`` (``fr`` or ``en``), ``return_url``;
- ``metadata.KEY``: a metadata entry ``KEY`` (e.g. ``metadata.eleve``).

The separator is a comma or a semicolon (French spreadsheets), told from the header line;
a UTF-8 byte order mark is skipped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

COLUMNS = (
    "reference",
    "description",
    "amount",
    "currency",
    "payer_name",
    "payer_email",
    "payer_address",
    "payer_company_id",
    "payer_vat_number",
    "expires_at",
    "locale",
    "return_url",
)
REQUIRED = ("reference", "description", "amount", "payer_name")
PAYER = {
    "payer_name": "name",
    "payer_email": "email",
    "payer_address": "address",
    "payer_company_id": "company_id",
    "payer_vat_number": "vat_number",
}


class CsvError(ValueError):
    """The file as a whole cannot be read (its header, its encoding)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class CsvBatch:
    items: list[dict[str, Any]]
    lines: list[int]  # the line each item starts on (1 is the header)

    def line_of(self, row: int) -> int:
        return self.lines[row]


def parse(data: bytes) -> CsvBatch:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(1, f"the file is not UTF-8 (byte {exc.start})") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise CsvError(1, "the file is empty") from None
    except csv.Error as exc:
        raise CsvError(1, str(exc)) from None
    unknown = [h for h in header if h not in COLUMNS and not h.startswith("metadata.")]
    if unknown:
        raise CsvError(1, f"unknown column {unknown[0]!r} (see `regie invoices import --help`)")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CsvError(1, f"missing column {missing[0]!r}")
    if len(set(header)) != len(header):
        raise CsvError(1, "a column is given twice")
    items: list[dict[str, Any]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                start = reader.line_num + 1
                continue  # a blank line
            if len(cells) != len(header):
                raise CsvError(start, f"{len(cells)} cells for {len(header)} columns")
            items.append(_item(dict(zip(header, cells, strict=True))))
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CsvError(start, str(exc)) from None
    return CsvBatch(items, lines)


def _item(row: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {"currency": "EUR"}
    payer: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    for column, raw in row.items():
        value = raw.strip()
        if not value:
            continue
        if column.startswith("metadata."):
            metadata[column[len("metadata.") :]] = value
        elif column in PAYER:
            payer[PAYER[column]] = value
        elif column == "amount":
            # an integer (ASCII digits: str.isdigit also takes "²" and "١٢٣") is the API's;
            # anything else goes as text, for its error to name it
            item["amount"] = int(value) if value.isascii() and value.isdigit() else value
        else:
            item[column] = value
    item["payer"] = payer
    if metadata:
        item["metadata"] = metadata
    return item


def param_of(param: str | None) -> str | None:
    """The CSV column behind an API field (``payer.email`` -> ``payer_email``)."""
    if param is None:
        return None
    if param.startswith("payer."):
        return f"payer_{param.split('.', 1)[1]}"
    if param.startswith("metadata."):
        return param
    return param
