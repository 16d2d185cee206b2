"""Stripe's "Itemised payout reconciliation" report (CSV), read and written.

Columns are found by their header name, in any order; extra columns are ignored. UTF-8 with
or without a BOM. Amounts are major units (``12.50``), converted exactly to minor units with
the ISO 4217 exponent of the row's currency (Stripe writes currencies in lower case).
Times are UTC (``2026-10-03 12:34:56``) or ISO 8601 with an offset; when the report also
has Stripe's ``created_utc``-style columns, those are read instead of the ones in the
report's time zone. Every row must satisfy ``gross - fee == net``; no balance transaction
may be on two lines, and a payout's lines must all be in its currency.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from . import values
from .errors import SourceError
from .messages import Message, msg
from .parser_words import detail as parser_detail

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

COLUMNS = (
    "automatic_payout_id",
    "automatic_payout_effective_at",
    "balance_transaction_id",
    "created",
    "available_on",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "charge_id",
    "payment_intent_id",
    "description",
)
REQUIRED = (
    "automatic_payout_id",
    "balance_transaction_id",
    "created",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
)
_TIMES = ("automatic_payout_effective_at", "created", "available_on")
_OPTIONAL_TEXT = ("source_id", "charge_id", "payment_intent_id", "description")
# Stripe's ids, as long as the columns regie keeps them in (``models.ReconDiscrepancy``)
_IDS = ("balance_transaction_id", "automatic_payout_id", "source_id", "charge_id",
        "payment_intent_id", "reporting_category")  # fmt: skip
MAX_ID = 255
# the instants a report may hold: regie counts business days and reads the ledger a week
# either side of them, which a time in year 1 or 9999 would carry out of Python's dates
# (``reconciliation.period``'s range, to the second)
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
# an amount in minor units fits a signed 64-bit column with room to sum (the bulk path types
# at most 14 digits before the point, ``bulk_typing.WHOLE_DIGITS``: below it at any exponent)
MAX_MINOR = 10**18


@dataclass(frozen=True, slots=True)
class PayoutReportRow:
    balance_transaction_id: str
    payout_id: str | None  # automatic_payout_id
    payout_effective_at: dt.datetime | None  # UTC
    created: dt.datetime  # UTC
    available_on: dt.datetime | None  # UTC
    currency: str  # upper case
    gross: int  # minor units, signed (a refund's gross is negative)
    fee: int
    net: int
    reporting_category: str  # charge, refund, dispute, fee, payout, …
    source_id: str | None
    charge_id: str | None
    payment_intent_id: str | None
    description: str | None
    line: int  # the line the row starts on (the header is line 1)


@dataclass(frozen=True, slots=True)
class StripePayoutReport:
    filename: str
    sha256: str
    rows: tuple[PayoutReportRow, ...]
    columns: tuple[str, ...] = ()  # the header as read (lower case), for callers to check


def parse_stripe_payout_csv(
    data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> StripePayoutReport:
    """Read the report; raise ``SourceError`` naming the file, line and column of what is wrong."""
    columns: list[str] = []
    rows = tuple(iter_stripe_payout_csv(data, filename, max_bytes=max_bytes, header=columns))
    return StripePayoutReport(
        filename=filename,
        sha256=hashlib.sha256(data).hexdigest(),
        rows=rows,
        columns=tuple(columns),
    )


def iter_stripe_payout_csv(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    header: list[str] | None = None,
) -> Iterator[PayoutReportRow]:
    """The report's rows one at a time (a year of a city is a million rows: the caller keeps
    what it needs of each, not the rows). ``header``, when given, receives the columns read."""
    if len(data) > max_bytes:
        raise SourceError(filename, None, msg("file_too_large", size=len(data), limit=max_bytes))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(filename, line, msg("not_utf8")) from None
    if not text.strip():
        raise SourceError(filename, None, msg("file_empty"))
    nul = text.find("\x00")
    if nul >= 0:  # no text column takes it (PostgreSQL refuses it)
        raise SourceError(filename, text.count("\n", 0, nul) + 1, msg("nul_character"))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    del text
    try:
        columns, index = _header(reader, filename)
        if header is not None:
            header.extend(columns)
        start = reader.line_num + 1
        once = _Once(filename)
        for fields in reader:
            if any(f.strip() for f in fields):
                row = _row(fields, columns, index, filename, start)
                once.check(row)
                yield row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise SourceError(
            filename, reader.line_num or None, msg("not_csv", detail=parser_detail(str(exc)))
        ) from None


def repeated_error(filename: str, line: int, txn: str, first: int) -> SourceError:
    """A balance transaction on a second line (the bulk path's words too)."""
    return SourceError(filename, line, msg("txn_repeated", txn=txn, first=first))


def currency_error(
    filename: str, line: int, payout: str, currency: str, first: int, first_currency: str
) -> SourceError:
    """A payout's line in another currency than its first line's (the bulk path's words too)."""
    return SourceError(
        filename,
        line,
        msg(
            "payout_currency",
            payout=payout,
            first_currency=first_currency,
            first=first,
            currency=currency,
        ),
    )


class _Once:
    """What a Stripe report never holds, though each of its rows is right: a balance
    transaction on two lines (its net would be counted twice in its payout), a payout's lines
    in two currencies (a payout is in one, and so is every balance transaction it carries).
    A line both is named for its repetition."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: dict[str, int] = {}  # balance transaction -> its line
        self.payouts: dict[str, tuple[str, int]] = {}  # payout -> its first line's currency, line

    def check(self, row: PayoutReportRow) -> None:
        first = self.lines.setdefault(row.balance_transaction_id, row.line)
        if first != row.line:
            raise repeated_error(self.filename, row.line, row.balance_transaction_id, first)
        if row.payout_id is not None:
            currency, line = self.payouts.setdefault(row.payout_id, (row.currency, row.line))
            if currency != row.currency:
                raise currency_error(
                    self.filename, row.line, row.payout_id, row.currency, line, currency
                )


def _header(reader: Iterable[list[str]], filename: str) -> tuple[list[str], dict[str, int]]:
    header = [name.strip().lower() for name in next(iter(reader), [])]
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in index:
            raise SourceError(filename, 1, msg("column_twice", name=name))
        index[name] = i
    missing = [c for c in REQUIRED if c not in index and not (c in _TIMES and f"{c}_utc" in index)]
    if missing:
        columns = ", ".join(missing)
        if len(missing) > 1:
            raise SourceError(filename, 1, msg("missing_columns", columns=columns))
        raise SourceError(filename, 1, msg("missing_column", columns=columns))
    return header, index


class _Fields:
    def __init__(self, fields: list[str], index: dict[str, int], filename: str, line: int) -> None:
        self.fields, self.index, self.filename, self.line = fields, index, filename, line

    def fail(self, column: str, message: Message) -> SourceError:
        return SourceError(self.filename, self.line, msg("column", column=column, message=message))

    def get(self, column: str) -> str | None:
        i = self.index.get(column)
        if i is None:
            return None
        return self.fields[i].strip() or None

    def required(self, column: str) -> str:
        value = self.get(column)
        if value is None:
            raise self.fail(column, msg("empty"))
        return value

    def time(self, name: str, required: bool = False) -> dt.datetime | None:
        column = f"{name}_utc" if f"{name}_utc" in self.index else name
        value = self.required(column) if required else self.get(column)
        if value is None:
            return None
        try:
            at = values.parse_datetime(value, self.filename, self.line)
        except SourceError:
            try:
                at = dt.datetime.combine(
                    values.parse_date(value, self.filename, self.line), dt.time()
                )
            except SourceError:
                raise self.fail(column, msg("not_time", value=value)) from None
        try:
            at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
        except OverflowError:  # an offset carries it out of Python's years
            at = LATEST
        if not EARLIEST <= at < LATEST:
            raise self.fail(
                column,
                msg(
                    "time_out_of_range",
                    value=value,
                    earliest=EARLIEST.date(),
                    latest=LATEST.date(),
                ),
            )
        return at

    def amount(self, column: str, code: str) -> int:
        text = self.required(column)  # (its refusal names the column once)
        try:
            value = values.minor_units(
                text,
                code,
                self.filename,
                self.line,
                signed=True,
                what=values.VALUE,
            )
        except SourceError as exc:
            raise self.fail(column, exc.words) from None
        if abs(value) >= MAX_MINOR:
            raise self.fail(column, msg("amount_too_large", value=self.get(column)))
        return value

    def ids(self) -> None:
        for column in _IDS:
            value = self.get(column)
            if value is not None and len(value) > MAX_ID:
                raise self.fail(column, msg("id_too_long", length=len(value), limit=MAX_ID))


def _row(
    fields: list[str], header: list[str], index: dict[str, int], filename: str, line: int
) -> PayoutReportRow:
    if len(fields) != len(header):
        raise SourceError(
            filename, line, msg("field_count", fields=len(fields), header=len(header))
        )
    f = _Fields(fields, index, filename, line)
    f.ids()
    raw_currency = f.required("currency")
    code = raw_currency.upper()
    try:
        values.currency(code, filename, line)
    except SourceError as exc:
        raise f.fail("currency", exc.words) from None
    gross, fee, net = (f.amount(c, code) for c in ("gross", "fee", "net"))
    if gross - fee != net:
        raise SourceError(
            filename,
            line,
            msg(
                "net_mismatch",
                gross=values.decimal_text(gross, code),
                fee=values.decimal_text(fee, code),
                difference=values.decimal_text(gross - fee, code),
                net=values.decimal_text(net, code),
            ),
        )
    created = f.time("created", required=True)
    assert created is not None
    source_id, charge_id, payment_intent_id, description = (f.get(c) for c in _OPTIONAL_TEXT)
    return PayoutReportRow(
        balance_transaction_id=f.required("balance_transaction_id"),
        payout_id=f.get("automatic_payout_id"),
        payout_effective_at=f.time("automatic_payout_effective_at"),
        created=created,
        available_on=f.time("available_on"),
        currency=code,
        gross=gross,
        fee=fee,
        net=net,
        reporting_category=f.required("reporting_category"),
        source_id=source_id,
        charge_id=charge_id,
        payment_intent_id=payment_intent_id,
        description=description,
        line=line,
    )


def _time_text(at: dt.datetime | None) -> str:
    if at is None:
        return ""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S")


def write_stripe_payout_csv(rows: Iterable[PayoutReportRow]) -> bytes:
    """The report as Stripe writes it (UTF-8, no BOM, CRLF, ``COLUMNS`` in order, times in UTC
    to the second, amounts in major units, currencies in lower case)."""
    out = io.StringIO()
    writer = csv.writer(out)  # "\r\n": a lone \r or \n inside a value is then quoted
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.payout_id or "",
                _time_text(r.payout_effective_at),
                r.balance_transaction_id,
                _time_text(r.created),
                _time_text(r.available_on),
                r.currency.lower(),
                values.decimal_text(r.gross, r.currency),
                values.decimal_text(r.fee, r.currency),
                values.decimal_text(r.net, r.currency),
                r.reporting_category,
                r.source_id or "",
                r.charge_id or "",
                r.payment_intent_id or "",
                r.description or "",
            ]
        )
    return out.getvalue().encode("utf-8")
