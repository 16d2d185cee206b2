"""The invoices CSV cells and the search's filters (pure)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from payments.service.search import InvoiceRow
from regie.finance.csv_export import COLUMNS, csv_text, invoice_cells
from regie.finance.forms import end_of, invoice_filters, ledger_date, parse_day, start_of
from regie.kit.spreadsheet import safe_cell

UTC = dt.UTC


def row(**kw) -> InvoiceRow:
    values = {
        "id": "inv_1",
        "number": "URBANISME-2026-000001",
        "service": "urbanisme",
        "reference": "PC-1",
        "description": "Permis",
        "payer_name": "Camille Martin",
        "status": "paid",
        "currency": "EUR",
        "amount_total": 123_450,
        "amount_paid": 123_450,
        "amount_refunded": 5,
        "created_at": dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
        "paid_at": None,
    }
    values.update(kw)
    return InvoiceRow(**values)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_a_spreadsheet_would_run_starts_with_a_quote(start: str) -> None:
    assert safe_cell(start + "SUM(A1:A9)") == "'" + start + "SUM(A1:A9)"


@pytest.mark.parametrize(
    ("value", "safe"),
    [("SUBV;=1+2;", "SUBV;'=1+2;"), ("a,-5", "a,'-5"), ("=a;@b", "'=a;'@b"), ("x;;+y", "x;;'+y")],
)
def test_a_formula_after_either_locales_separator_starts_with_a_quote(
    value: str, safe: str
) -> None:
    """Excel in a French locale splits a CSV on ";": no cell it makes may run either."""
    assert safe_cell(value) == safe


def test_other_cells_are_unchanged() -> None:
    for value in ("Camille", "", "25.00", "a=b", " =1", "a; =b", "Cantine, novembre"):
        assert safe_cell(value) == value


def test_amounts_are_exact_decimals_in_the_currencys_digits() -> None:
    cells = dict(zip(COLUMNS, invoice_cells(row()), strict=True))
    assert (cells["amount_total"], cells["amount_paid"], cells["amount_refunded"]) == (
        "1234.50",
        "1234.50",
        "0.05",
    )
    assert cells["created_at"] == "2026-10-31T23:30:00Z"
    assert cells["paid_at"] == ""
    jpy = dict(zip(COLUMNS, invoice_cells(row(currency="JPY", amount_total=1500)), strict=True))
    assert jpy["amount_total"] == "1500"
    kwd = dict(zip(COLUMNS, invoice_cells(row(currency="KWD", amount_total=18_150)), strict=True))
    assert kwd["amount_total"] == "18.150"


def test_the_text_cells_are_made_safe_and_quoted() -> None:
    cells = invoice_cells(
        row(payer_name='=HYPERLINK("http://x")', description='a, "b"\nc', reference="@r")
    )
    text = csv_text([COLUMNS, cells])
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[1][COLUMNS.index("payer_name")] == '\'=HYPERLINK("http://x")'
    assert parsed[1][COLUMNS.index("description")] == 'a, "b"\nc'
    assert parsed[1][COLUMNS.index("reference")] == "'@r"


def test_days_are_whole_paris_days() -> None:
    assert parse_day("2026-10-31") == dt.date(2026, 10, 31)
    # (a week date, 2026-W44-6, is 31 October to Python's fromisoformat: not to the form,
    # whose hint says YYYY-MM-DD; nor digits that are not ASCII)
    for bad in ("2026-13-01", "31/10/2026", "20261031", "", "2026-1-1", "x", "2026-W44-6",
                "２０２６-10-31"):  # fmt: skip
        assert parse_day(bad) is None, bad
    # 25 October 2026 is the day summer time ends: 25 hours long
    assert start_of(dt.date(2026, 10, 25)) == dt.datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert end_of(dt.date(2026, 10, 25)) == dt.datetime(2026, 10, 25, 23, tzinfo=UTC)


def test_the_ledger_date_is_today_by_default_and_an_error_when_not_a_date() -> None:
    now = dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # already 1 November in Paris
    assert ledger_date(None, now).day == dt.date(2026, 11, 1)
    assert ledger_date("2026-10-01", now).day == dt.date(2026, 10, 1)
    bad = ledger_date("yesterday", now)
    assert (bad.error, bad.day, bad.text) == ("err_date", dt.date(2026, 11, 1), "yesterday")


def test_filters_are_read_and_the_wrong_ones_named() -> None:
    f = invoice_filters(
        {"q": "  martin ", "status": "paid", "service": "urbanisme", "from": "2026-10-01",
         "to": "2026-10-31", "page": "3"},
        ["urbanisme", "etat-civil"],
    )  # fmt: skip
    assert f.errors == {}
    q = f.query()
    assert (q.text, q.status, q.service) == ("martin", "paid", "urbanisme")
    assert q.created_gte == dt.datetime(2026, 9, 30, 22, tzinfo=UTC)
    assert q.created_lt == dt.datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert f.page == 3
    assert f.params(4) == {"q": "martin", "status": "paid", "service": "urbanisme",
                           "from": "2026-10-01", "to": "2026-10-31", "page": "4"}  # fmt: skip
    bad = invoice_filters(
        {"status": "lost", "service": "nope", "from": "2026-10-31", "to": "2026-10-01",
         "page": "-2"},
        ["urbanisme"],
    )  # fmt: skip
    assert bad.errors == {"status": "err_status", "service": "err_service", "to": "err_date_order"}
    assert (bad.status, bad.service, bad.page) == ("", "", 1)
    assert invoice_filters({"from": "31/10/2026"}, []).errors == {"from": "err_date"}
    # str.isdigit takes these; int() refused the first (a 500) and read the others
    for odd in ("\u00b2", "\u0663", "\uff13"):
        assert invoice_filters({"page": odd}, []).page == 1
