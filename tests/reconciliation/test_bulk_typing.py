"""The bulk path types the report as the Python reader does, or sends it back to the reader.

With no ledger payment in the window every line comes back from the bulk path as matching's
record, so what Arrow typed (``bulk_typing``) can be compared with what the Python reader reads
(``sources.stripe_csv``, ``normalise.ReportFolder``), line for line: amounts in each
currency's minor units (0, 2, 3 and 4 decimals), signs, times, categories, ids and order. A
spelling the bulk path is not sure to read as the reader does is not typed at all."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciliation.bulk import BulkReport
from reconciliation.normalise import ReportFolder
from reconciliation.records import PspLine
from reconciliation.sources.errors import SourceError
from reconciliation.sources.stripe_csv import iter_stripe_payout_csv
from tests.reconciliation.test_bulk import HEADER

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk path's directories made in a directory of this test's own, so that counting
    them is not upset by another run of the tests on the same machine."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


SINCE = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
# payout, effective, txn, created, available, currency, gross, fee, net, category, source,
# charge, payment intent, description
ROWS = [
    "po_1,2026-10-09 00:00:00,txn_e,2026-10-05 10:00:00,2026-10-07 00:00:00,eur,12.50,0.40,12.10,charge,ch_e,ch_e,pi_e,Cantine",
    "po_j,2026-10-09 00:00:00,txn_j,2026-10-05 10:01:00,,jpy,1250,40,1210,charge,ch_j,ch_j,pi_j,",
    "po_k,2026-10-09 00:00:00,txn_k,2026-10-05 10:02:00,,kwd,1.250,0.040,1.210,Charge,ch_k,ch_k,pi_k,  Piscine ",
    "po_c,2026-10-09 00:00:00,txn_c,2026-10-05 10:03:00,,clf,1.2500,0.0400,1.2100,charge,ch_c,ch_c,pi_c,x",
    ",,txn_r,2026-10-06 08:00:00,,eur,-5.00,0.00,-5.00,refund,re_1,ch_e,pi_e,Remboursement",
    "po_2,2026-10-16 00:00:00,txn_h,2026-10-06 09:00:00,,EUR,0.5,0.00,0.5,charge,ch_h,ch_h,,",
    "po_u,2026-10-16 00:00:00,txn_u,2026-10-06 09:30:00,,usd,-0.05,0.00,-0.05,dispute,dp_1,ch_u,pi_u,",
    "po_2,2026-10-16 00:00:00,txn_f,2026-10-06 23:59:59,,eur,-1.50,0,-1.50,stripe_fee,,,,Frais",
    "po_2,2026-10-16 00:00:00,txn_z,2026-10-06 12:00:00,,eur,0.00,0.00,0.00,adjustment,,,,",
]


def _python(data: bytes) -> list[PspLine]:
    folder = ReportFolder()
    return [folder.add(r) for r in iter_stripe_payout_csv(data, "r.csv", max_bytes=10**9)]


async def _bulk(app: Any, data: bytes) -> list[PspLine] | None:
    """The report's lines as the bulk path gives them back (none is paired: no ledger), or
    None when it sends the report to the Python reader."""
    bulk = await BulkReport.open(app.state.db.engine, data, "r.csv", None)
    if bulk is None:
        return None
    try:
        lines, ledger, settled = await bulk.match("stripe", SINCE, UNTIL)
    finally:
        await bulk.close()
    assert ledger == [] and settled.matched == 0
    return lines


def _report(rows: list[str], end: str = "\n") -> bytes:
    return (HEADER.replace("\n", end) + end.join(rows) + end).encode()


async def _as_the_reader(app: Any, rows: list[str]) -> dict[str, PspLine]:
    """The report of ``rows`` typed in bulk (not sent to the reader) exactly as the reader
    reads it; its lines by balance transaction."""
    data = _report(rows)
    typed = await _bulk(app, data)
    assert typed is not None and typed == _python(data)
    return {x.id: x for x in typed}


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("regie-recon-*")}


async def test_a_report_read_in_bulk_leaves_no_directory_behind(app: Any) -> None:
    """The ledger's files and DuckDB's spill files are removed once the report is closed."""
    assert await _bulk(app, _report(ROWS))
    assert _leftovers() == set()


async def test_every_currency_sign_and_category_is_typed_as_the_reader_types_it(app: Any) -> None:
    data = _report(ROWS)
    typed = await _bulk(app, data)
    assert typed == _python(data)
    by_id = {x.id: x for x in typed or []}
    assert (by_id["txn_j"].gross, by_id["txn_k"].gross, by_id["txn_c"].gross) == (1250, 1250, 12500)
    assert (by_id["txn_h"].gross, by_id["txn_u"].net, by_id["txn_r"].gross) == (50, -5, -500)
    assert by_id["txn_h"].currency == "EUR" and by_id["txn_c"].currency == "CLF"


async def test_windows_line_ends_and_a_byte_order_mark_are_read_as_the_reader_reads_them(
    app: Any,
) -> None:
    data = b"\xef\xbb\xbf" + _report(ROWS, "\r\n")
    assert await _bulk(app, data) == _python(data)


async def test_the_files_order_is_kept(app: Any) -> None:
    """Enough lines for pyarrow to read the file in parallel blocks; ids in falling order, so
    any reordering (by a join, a sort by id) shows."""
    n = 60_000
    rows = [
        f"po_1,2026-10-09 00:00:00,txn_{n - i:06d},2026-10-05 10:00:00,,eur,1.00,0.10,0.90,"
        f"charge,ch_{i},ch_{i},pi_{i},Facture numero {i}"
        for i in range(n)
    ]
    typed = await _bulk(app, _report(rows))
    assert typed is not None
    assert [x.id for x in typed] == [f"txn_{n - i:06d}" for i in range(n)]


async def test_words_a_csv_library_could_take_for_nothing_stay_text(app: Any) -> None:
    """``NA``, ``NULL``, ``nan``, ``N/A``: pyarrow's CSV reader takes such fields for missing
    values unless told otherwise; the reader keeps them as written, and so does the bulk
    path (only an empty field is nothing)."""
    rows = [ROWS[0].replace("Cantine", "NA"), ROWS[1].replace(",ch_j,ch_j,pi_j,", ",NULL,nan,N/A,"),
            *ROWS[2:]]  # fmt: skip
    by_id = await _as_the_reader(app, rows)
    assert by_id["txn_e"].description == "NA"
    assert by_id["txn_j"].refs == ("N/A", "nan", "NULL")


async def test_a_leading_zero_and_a_negative_zero_are_typed_as_the_reader_types_them(
    app: Any,
) -> None:
    """``012.50`` is 1250 cents to the reader and ``-0.00`` is 0: the same in bulk (they
    went to the reader when the bulk path typed only the reader's written-back spelling)."""
    rows = [ROWS[0].replace(",12.50,0.40,12.10,", ",012.50,0,012.50,"),
            ROWS[1].replace(",1250,40,1210,", ",-0.00,-0,00,"), *ROWS[2:]]  # fmt: skip
    assert rows[:2] != ROWS[:2]
    by_id = await _as_the_reader(app, rows)
    assert (by_id["txn_e"].gross, by_id["txn_e"].net) == (1250, 1250)
    assert (by_id["txn_j"].gross, by_id["txn_j"].fee, by_id["txn_j"].net) == (0, 0, 0)


async def test_a_currency_in_mixed_case_is_typed_as_the_reader_types_it(app: Any) -> None:
    """The reader upper-cases the code (``str.upper``) and so does the bulk path: ``Eur`` is
    EUR on both (it went to the reader while DuckDB upper-cased it)."""
    by_id = await _as_the_reader(app, [ROWS[0].replace(",eur,", ",Eur,"), *ROWS[1:]])
    assert by_id["txn_e"].currency == "EUR"


async def test_a_report_of_no_line_is_typed_as_empty(app: Any) -> None:
    assert await _bulk(app, _report([])[: len(HEADER)]) == [] == _python(HEADER.encode())


async def test_zeros_past_the_currencys_places_are_typed_as_the_reader_types_them(
    app: Any,
) -> None:
    """``12.500`` euros is 1250 cents to the reader, and ``1250.00`` yen 1250 yen: the bulk
    path types them so too (it sent them to the reader before; the same amounts)."""
    rows = [ROWS[0].replace(",12.50,0.40,12.10,", ",12.500,0,12.500,"),
            ROWS[1].replace(",1250,40,1210,", ",1250.00,0,1250.00,"), *ROWS[2:]]  # fmt: skip
    assert rows[:2] != ROWS[:2]
    by_id = await _as_the_reader(app, rows)
    assert (by_id["txn_e"].gross, by_id["txn_e"].net, by_id["txn_j"].gross) == (1250, 1250, 1250)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (6, "12.505"),  # a place finer than the cent (the reader refuses it)
        (6, "+12.50"),
        (6, "1e3"),
        (6, " 12.50"),
        (6, "99999999999999999999.00"),  # beyond a 64-bit integer of cents
        (6, "123456789012345.00"),  # 15 digits before the point: more than typed here
        (6, "92233720368547758.07"),  # 2^63 - 1 cents: the reader refuses it (too large)
        # 2^128 + 1250 cents: Arrow's decimal parser would wrap it round to 12.50
        (6, "3402823669209384634633746074317682127.06"),
        (6, "12.5000000000000000000"),  # 19 places: more than the reader reads
        # 0.40 plus 2^128 units of the 38th place: Arrow's decimal parser would wrap it round
        (7, "3.80282366920938463463374607431768211456"),
        (3, "2026-10-05 24:00:00"),  # a parser could take it as the next day
        (3, "2026-10-05T10:00:00"),
        (3, "2026-10-05 10:00:00.5"),
        (3, "2026-02-30 10:00:00"),
        (3, "0000-01-01 00:00:00"),  # year 0: an instant to Arrow, none to Python
        (4, "2026-10-07"),  # available_on: checked although matching does not use it
        (5, "xyz"),
        (2, "txn e"),  # an id with a space
        (2, "txn_\u00e9"),  # an id outside ASCII
    ],
)
async def test_a_spelling_the_bulk_path_is_not_sure_of_goes_to_the_reader(
    app: Any, column: int, value: str
) -> None:
    fields = ROWS[0].split(",")
    fields[column] = value
    if column == 6:
        fields[7:9] = ["0", value]  # net = gross - fee
    before = _leftovers()
    assert await _bulk(app, _report([",".join(fields), *ROWS[1:]])) is None
    assert _leftovers() == before


async def test_line_ends_that_change_after_the_header_are_read_as_the_reader_reads_them(
    app: Any,
) -> None:
    """pyarrow, like Python's csv module, ends a line at a new line with or without a
    carriage return before it (DuckDB's reader, used before, took the first line's ending for
    the whole file, so such a report went to the Python reader)."""
    data = (HEADER + "\r\n".join(ROWS)).encode()
    typed = await _bulk(app, data)
    assert typed is not None and typed == _python(data)
    assert len(typed) == len(ROWS)


@pytest.mark.parametrize(
    "data",
    [
        _report([ROWS[0], "", *ROWS[1:]]),  # a blank line (the reader skips it)
        _report(ROWS) + b"\r\n",  # a blank line at the end (pyarrow: a row of nothing)
        _report(ROWS).replace(b"\n", b"\r", 1),  # a lone carriage return
        _report([ROWS[0] + ",extra", *ROWS[1:]]),  # a field too many
        _report([ROWS[0].replace("Cantine", "Cantine \xff"), *ROWS[1:]]).replace(
            "\xff".encode(), b"\xff"
        ),  # not UTF-8
    ],
    ids=["blank-line", "blank-last-line", "lone-cr", "extra-field", "not-utf8"],
)
async def test_a_file_pyarrow_would_read_otherwise_goes_to_the_reader(
    app: Any, data: bytes
) -> None:
    before = _leftovers()
    assert await _bulk(app, data) is None
    assert _leftovers() == before


def _refusal(data: bytes) -> str:
    """What the Python reader says of a report it refuses."""
    with pytest.raises(SourceError) as exc:
        _python(data)
    return str(exc.value)


@pytest.mark.parametrize("column", ["created", "automatic_payout_effective_at", "available_on"])
async def test_a_time_column_beside_its_utc_column_is_no_longer_than_pythons_csv_reads(
    app: Any, column: str
) -> None:
    """With ``created_utc`` in the header the reader reads it instead of ``created`` (and so
    for each time), but Python's csv module still reads ``created``'s fields, and refuses one
    longer than its limit (131072 characters): the bulk path does not type such a report."""
    header = HEADER.replace("description\n", f"description,{column}_utc\n")
    at = HEADER.split(",").index(column)
    rows = [f"{r},{r.split(',')[3]}" for r in ROWS]  # the _utc time: the creation's
    for length, typed in ((131072, True), (131073, False)):
        fields = rows[0].split(",")
        fields[at] = "x" * length
        data = (header + "\n".join([",".join(fields), *rows[1:]]) + "\n").encode()
        if typed:
            assert await _bulk(app, data) == _python(data)
        else:
            assert "field larger than field limit (131072)" in _refusal(data)
            assert await _bulk(app, data) is None


def _large(n: int) -> list[str]:
    """``n`` rows of four payouts in euros (enough for pyarrow to read the file in parallel
    parts), each payout's lines together as Stripe lists them."""
    return [
        f"po_{i * 4 // n},2026-10-09 00:00:00,txn_{i:06d},2026-10-05 10:00:00,,eur,1.00,0.10,"
        f"0.90,charge,ch_{i},ch_{i},pi_{i},Facture numero {i}"
        for i in range(n)
    ]


def _in(currency: str, row: str) -> str:
    """A row of ``_large`` in another currency (yens have no cents)."""
    if currency == "jpy":
        row = row.replace("1.00,0.10,0.90", "100,10,90")
    return row.replace(",eur,", f",{currency},")


def _repeated(rows: list[str]) -> None:
    rows.insert(50_000, rows[7])


def _two_currencies(rows: list[str]) -> None:
    rows[40_000] = _in("usd", rows[40_000])


def _both(rows: list[str]) -> None:
    rows.append(rows[3])
    rows[59_000] = _in("jpy", rows[59_000])


def _both_on_one_line(rows: list[str]) -> None:
    rows.insert(2, _in("usd", rows[1]))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_repeated, "r.csv, line 50002: balance transaction txn_000007 is already on line 9"),
        (_two_currencies,
         "r.csv, line 40002: payout po_2 is in EUR (line 30002), this line is in USD"),
        # both: the earlier line is named, as the reader reads the file from its start
        (_both, "r.csv, line 59002: payout po_3 is in EUR (line 45002), this line is in JPY"),
        # one line both repeated and in another currency: its repetition is named
        (_both_on_one_line, "r.csv, line 4: balance transaction txn_000001 is already on line 3"),
    ],
    ids=["repeated", "two-currencies", "both-the-first", "both-on-one-line"],
)  # fmt: skip
async def test_a_repeated_line_or_a_payout_in_two_currencies_is_refused_as_the_reader_does(
    app: Any, change: Callable[[list[str]], None], says: str
) -> None:
    """Refused when the report is opened, before anything of the run is stored, with the
    reader's very message (the bulk path does not hand it over to the reader: a year's report
    read in Python takes a minute), and no directory left behind."""
    rows = _large(60_000)
    change(rows)
    data = _report(rows)
    assert _refusal(data) == says
    before = _leftovers()
    with pytest.raises(SourceError) as exc:
        await BulkReport.open(app.state.db.engine, data, "r.csv", None)
    assert str(exc.value) == says
    assert _leftovers() == before
    # with Windows line ends and a byte order mark, the lines are the same
    data = b"\xef\xbb\xbf" + _report(rows, "\r\n")
    with pytest.raises(SourceError) as exc:
        await BulkReport.open(app.state.db.engine, data, "r.csv", None)
    assert str(exc.value) == says
