"""Stripe's itemised payout reconciliation CSV: read by header name, exact amounts."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciliation.sources.errors import SourceError
from reconciliation.sources.stripe_csv import (
    COLUMNS,
    PayoutReportRow,
    parse_stripe_payout_csv,
    write_stripe_payout_csv,
)
from regie.kit.money import CURRENCIES

UTC = dt.UTC
REPORT = (
    "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created,"
    "available_on,currency,gross,fee,net,reporting_category,source_id,charge_id,"
    "payment_intent_id,description\n"
    "po_1,2026-10-05 00:00:00,txn_1,2026-10-03 12:34:56,2026-10-05 00:00:00,eur,25.00,0.60,"
    "24.40,charge,ch_1,ch_1,pi_1,Permis de construire\n"
    "po_1,2026-10-05 00:00:00,txn_2,2026-10-03 13:00:00,2026-10-05 00:00:00,eur,-10.00,0.00,"
    '-10.00,refund,re_1,ch_1,pi_1,"Remboursement, partiel"\n'
    "po_2,2026-10-05 00:00:00,txn_3,2026-10-04 09:00:00,2026-10-05 00:00:00,jpy,1000,30,"
    "970,charge,ch_2,ch_2,pi_2,\n"
)


def read(text: str | bytes, name: str = "payouts.csv") -> list[PayoutReportRow]:
    data = text.encode() if isinstance(text, str) else text
    return list(parse_stripe_payout_csv(data, name).rows)


def refused(text: str | bytes, name: str = "payouts.csv") -> SourceError:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(SourceError) as exc:
        parse_stripe_payout_csv(data, name)
    assert type(exc.value) is SourceError and exc.value.filename == name
    return exc.value


def test_rows_in_minor_units_with_their_lines() -> None:
    report = parse_stripe_payout_csv(REPORT.encode(), "payouts.csv")
    assert report.sha256 == hashlib.sha256(REPORT.encode()).hexdigest()
    assert report.columns == COLUMNS
    charge, refund, yen = report.rows
    assert charge == PayoutReportRow(
        balance_transaction_id="txn_1",
        payout_id="po_1",
        payout_effective_at=dt.datetime(2026, 10, 5, tzinfo=UTC),
        created=dt.datetime(2026, 10, 3, 12, 34, 56, tzinfo=UTC),
        available_on=dt.datetime(2026, 10, 5, tzinfo=UTC),
        currency="EUR",
        gross=2500,
        fee=60,
        net=2440,
        reporting_category="charge",
        source_id="ch_1",
        charge_id="ch_1",
        payment_intent_id="pi_1",
        description="Permis de construire",
        line=2,
    )
    assert (refund.gross, refund.fee, refund.net, refund.line) == (-1000, 0, -1000, 3)
    assert refund.description == "Remboursement, partiel"
    assert (yen.currency, yen.gross, yen.fee, yen.net, yen.description) == (
        "JPY",
        1000,
        30,
        970,
        None,
    )


def test_columns_by_name_in_any_order_with_extras_and_a_bom() -> None:
    header, *rows = REPORT.splitlines()
    names = header.split(",")
    order = list(reversed(range(len(names))))
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["customer_facing_amount"] + [names[i] for i in order])
    for row in csv.reader(rows):
        w.writerow(["99.99"] + [row[i] for i in order])
    shuffled = "\ufeff" + out.getvalue()
    assert read(shuffled.encode("utf-8")) == read(REPORT)


def test_utc_columns_are_preferred_over_the_report_time_zone() -> None:
    text = (
        "automatic_payout_id,balance_transaction_id,created_utc,created,currency,gross,fee,net,"
        "reporting_category\n"
        "po_1,txn_1,2026-10-03 10:34:56,2026-10-03 12:34:56,eur,1.00,0.00,1.00,charge\n"
    )
    (row,) = read(text)
    assert row.created == dt.datetime(2026, 10, 3, 10, 34, 56, tzinfo=UTC)
    assert row.available_on is None and row.payment_intent_id is None  # columns absent


def test_iso_times_with_an_offset_are_converted_to_utc() -> None:
    text = REPORT.replace("2026-10-03 12:34:56", "2026-10-03T14:34:56+02:00")
    assert read(text)[0].created == dt.datetime(2026, 10, 3, 12, 34, 56, tzinfo=UTC)
    text = REPORT.replace("2026-10-03 12:34:56", "2026-10-03T12:34:56Z")
    assert read(text)[0].created == dt.datetime(2026, 10, 3, 12, 34, 56, tzinfo=UTC)


def test_missing_columns_are_named() -> None:
    text = REPORT.replace("gross,fee,net", "amount,fees,total")
    err = refused(text)
    assert err.line == 1
    assert err.message.startswith("missing columns: gross, fee, net")
    err = refused(REPORT.replace("balance_transaction_id", "id"))
    assert err.message.startswith("missing column: balance_transaction_id")
    err = refused(REPORT.replace("gross,fee", "amount,fees"))  # two: plural too
    assert err.message.startswith("missing columns: gross, fee (")


def test_a_bad_value_names_line_and_column() -> None:
    err = refused(REPORT.replace("25.00,0.60", "25.005,0.60"))
    assert (err.line, err.message) == (
        2,
        "column gross: value 25.005 has more decimals than EUR allows",
    )
    err = refused(REPORT.replace("1000,30", "1000.5,30"))
    assert (err.line, err.message) == (
        4,
        "column gross: value 1000.5 has more decimals than JPY allows",
    )
    err = refused(REPORT.replace("-10.00,0.00", "ten,0.00"))
    assert err.line == 3 and err.message.startswith("column gross: value 'ten' is not a decimal")
    # other scripts' digits are digits to Python and to Decimal, not to a finance officer
    for digits in ("\u0662\u0665.\u0660\u0660", "\uff12\uff15.\uff10\uff10"):
        err = refused(REPORT.replace("25.00,0.60", f"{digits},0.60"))
        assert (err.line, err.message) == (
            2,
            f"column gross: value {digits!r} is not a decimal number like -1234.50",
        )
    err = refused(REPORT.replace(",eur,25.00", ",xyz,25.00"))
    assert (err.line, err.message) == (
        2,
        "column currency: unknown currency 'XYZ' (not an ISO 4217 code)",
    )
    err = refused(REPORT.replace("2026-10-03 12:34:56", "03/10/2026"))
    assert err.line == 2 and err.message.startswith("column created: '03/10/2026' is not a time")
    err = refused(REPORT.replace("txn_2", ""))
    assert (err.line, err.message) == (3, "column balance_transaction_id: empty")
    err = refused(REPORT.replace(",eur,25.00,", ",eur,,"))  # the column named once
    assert (err.line, err.message) == (2, "column gross: empty")


def test_gross_minus_fee_must_be_net() -> None:
    err = refused(REPORT.replace("24.40", "24.50"))
    assert (err.line, err.message) == (2, "gross 25.00 - fee 0.60 = 24.40, but net is 24.50")


def test_a_quoted_newline_keeps_later_line_numbers_right() -> None:
    text = REPORT.replace('"Remboursement, partiel"', '"Remboursement\npartiel"')
    rows = read(text)
    assert rows[1].description == "Remboursement\npartiel"
    assert rows[2].line == 5  # the row after the two-line row starts on line 5
    err = refused(text.replace("1000,30", "1000.5,30"))
    assert err.line == 5


def test_broken_files() -> None:
    assert refused(b"").message == "the file is empty"
    assert refused(b"\xff\xfe" + "x".encode("utf-16-le")).message == "not UTF-8 text"
    err = refused(REPORT + "po_1,only,three\n")
    assert (err.line, err.message) == (5, "3 fields where the header has 14")
    err = refused(REPORT.replace("Permis de construire", '"unclosed'))
    assert err.message == "not valid CSV: ',' expected after '\"'"  # the csv module's words
    dup = REPORT.replace("source_id", "fee")
    assert refused(dup).message == "the column 'fee' appears twice in the header"
    big = REPORT.encode()
    with pytest.raises(SourceError, match="more than the 10 allowed"):
        parse_stripe_payout_csv(big, "payouts.csv", max_bytes=10)


def test_a_balance_transaction_repeated_is_refused_naming_both_lines() -> None:
    """A Stripe report lists each balance transaction once: a repeated line would count its
    net twice in its payout (and the rounds would see it once)."""
    first = REPORT.splitlines()[1]
    err = refused(REPORT + first + "\n")
    assert (err.line, err.message) == (5, "balance transaction txn_1 is already on line 2")
    assert str(err) == "payouts.csv, line 5: balance transaction txn_1 is already on line 2"
    # the same id with other values is the same balance transaction, named once
    err = refused(REPORT.replace("txn_3", "txn_2"))
    assert (err.line, err.message) == (4, "balance transaction txn_2 is already on line 3")
    # after a quoted newline, lines are counted as the file has them
    err = refused(REPORT.replace("partiel", "\npartiel") + first + "\n")
    assert (err.line, err.message) == (6, "balance transaction txn_1 is already on line 2")


def test_a_payout_in_two_currencies_is_refused_at_its_first_line_in_another() -> None:
    """A payout is in one currency, and so is every balance transaction it carries."""
    text = REPORT.replace("po_2,", "po_1,")
    err = refused(text, "x.csv")
    assert str(err) == "x.csv, line 4: payout po_1 is in EUR (line 2), this line is in JPY"
    # a line of no payout may be in any currency; another payout in another currency too
    assert len(read(REPORT.replace("po_2,", ","))) == 3
    assert len(read(REPORT)) == 3
    # a line both repeated and in another currency: the repetition is named
    err = refused(text.replace("txn_3", "txn_1"))
    assert (err.line, err.message) == (4, "balance transaction txn_1 is already on line 2")


def test_blank_lines_are_skipped_and_a_header_alone_is_no_rows() -> None:
    assert (
        len(
            read(
                REPORT.replace(
                    "\npo_1,2026-10-05 00:00:00,txn_2", "\n\npo_1,2026-10-05 00:00:00,txn_2"
                )
            )
        )
        == 3
    )
    assert read(REPORT.splitlines()[0] + "\n") == []


times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)


@st.composite
def report_rows(draw: st.DrawFn) -> PayoutReportRow:
    code = draw(st.sampled_from(sorted(CURRENCIES)))
    gross = draw(st.integers(min_value=-(10**12), max_value=10**12))
    fee = draw(st.integers(min_value=-(10**9), max_value=10**9))
    optional = st.none() | st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
    return PayoutReportRow(
        balance_transaction_id="txn_" + draw(st.text("ABCxyz0123456789", min_size=1, max_size=10)),
        payout_id=draw(optional),
        payout_effective_at=draw(st.none() | times),
        created=draw(times),
        available_on=draw(st.none() | times),
        currency=code,
        gross=gross,
        fee=fee,
        net=gross - fee,
        reporting_category=draw(st.sampled_from(["charge", "refund", "dispute", "fee"])),
        source_id=draw(optional),
        charge_id=draw(optional),
        payment_intent_id=draw(optional),
        description=draw(st.none() | texts.filter(lambda s: s.strip() == s and s != "")),
        line=0,
    )


def _one_currency_a_payout(rows: list[PayoutReportRow]) -> bool:
    first: dict[str, str] = {}
    return all(first.setdefault(r.payout_id, r.currency) == r.currency
               for r in rows if r.payout_id)  # fmt: skip


@given(
    st.lists(report_rows(), max_size=8, unique_by=lambda r: r.balance_transaction_id).filter(
        _one_currency_a_payout
    )
)
def test_what_the_writer_writes_the_reader_reads_back(rows: list[PayoutReportRow]) -> None:
    data = write_stripe_payout_csv(rows)
    back = parse_stripe_payout_csv(data, "sim.csv").rows
    assert [r.__class__(**{**_fields(r), "line": 0}) for r in back] == rows


def _fields(r: PayoutReportRow) -> dict[str, object]:
    return {name: getattr(r, name) for name in r.__dataclass_fields__}
