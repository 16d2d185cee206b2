"""The bulk path never reads a report otherwise than the Python reader does (hypothesis).

Reports are generated field by field from spellings a report may hold: the ones the bulk path
types (plain ids, ``12.50``, ``2026-10-05 10:00:00``, ``eur``) and the ones it must not be
fooled by (an id with a no-break space at its end, ``+12.50``, ``1e3``, ``12.500``, a time
at 24:00 or on 30 February, ``Eur``, ...), under headers in any order, with ``_utc`` times,
extra columns, Windows line ends and byte order marks; and reports whose rows are each right
but that the reader refuses as a whole (a balance transaction on two lines, a payout in two
currencies). For each, the bulk path's typing (``bulk.layout`` and ``BulkReport._load``, as
``BulkReport.open`` calls them) either sends the report back to the reader (None), or gives
exactly what the reader gives: every line, the payouts, and the category and id the pairing
joins on; or refuses it with the reader's very words. A report made only of spellings the
bulk path types must be typed, so that the property cannot hold by refusing everything.

No database: the typing is Arrow's (``bulk_typing``) and DuckDB's, in this process."""

from __future__ import annotations

import codecs
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciliation import bulk_sql as q
from reconciliation.bulk import BulkReport, _line, layout
from reconciliation.bulk_load import connect
from reconciliation.normalise import ReportFolder
from reconciliation.records import CHARGE, Payout, PspLine
from reconciliation.sources.errors import SourceError
from reconciliation.sources.stripe_csv import iter_stripe_payout_csv

COLUMNS = [
    "automatic_payout_id", "automatic_payout_effective_at", "balance_transaction_id",
    "created", "available_on", "currency", "gross", "fee", "net", "reporting_category",
    "source_id", "charge_id", "payment_intent_id", "description",
]  # fmt: skip
TIMES = ("automatic_payout_effective_at", "created", "available_on")
EXPONENT = {"eur": 2, "EUR": 2, "usd": 2, "jpy": 0, "JPY": 0, "kwd": 3, "clf": 4}


def amount(minor: int, exp: int) -> str:
    """The plain spelling of ``minor`` units: ``-12.50``, ``1250``, ``0.005``."""
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**exp)
    return f"{sign}{whole}.{part:0{exp}d}" if exp else f"{sign}{whole}"


# spellings the bulk path types, and spellings it may only type if the reader reads them the
# same (each report holds at most one of these, so that nothing else refuses it first)
IDS = ["txn_1", "ch_3NxYz", "pi_AB-12", "re_x.y", "x!~#", "a"]
ODD_IDS = ["", " txn_1", "txn_1 ", "\ttxn", "txn\u00a0", "\u3000txn", "tx n", "txn_\u00e9",
           "txn\x0b", "\x1ftxn", "  ", "\u00a0", "tx\x01n", "txn\x7f", "\x08txn", "txn\x1c",
           "txn\x85", "\u2028txn", "x" * 256]  # fmt: skip
CATEGORIES = ["charge", "Charge", "CHARGE", "payment", "refund", "stripe_fee", "adjustment",
              "dispute", "payout"]  # fmt: skip
ODD_CATEGORIES = ["", " charge", "charge ", "ch\u00e4rge", "\u00a0charge"]
ODD_CURRENCIES = ["Eur", "xyz", "", " eur", "eur ", "EU", "eurx"]
TIMES_OK = ["2026-10-05 10:00:00", "2024-02-29 23:59:59", "2026-12-31 00:00:00"]
# (the last, in year 0, is an instant to Arrow and none to Python's datetime)
ODD_TIMES = ["2026-10-05T10:00:00", "2026-10-05", "2026-10-05 24:00:00", "2026-02-29 10:00:00",
             "2026-10-05 10:00:00Z", "2026-10-05 10:00:00+02:00", "2026-10-05 10:00:00.5",
             "2026-10-05 10:00", " 2026-10-05 10:00:00", "2026-10-05 10:00:00 ",
             "2026-13-01 10:00:00", "2026-10-05 10:60:00", "", "2026-1-05 10:00:00",
             "2026-10-5 10:00:00", "2026-10-05 1:00:00", "02026-10-05 10:00:00",
             "+2026-10-05 10:00:00", "2026-10-05  10:00:00", "2026-10-05 10:00:00.000000",
             "2026-10-05 10:00:00 UTC", "２０２６-10-05 10:00:00", "2026-10-05 10",
             "1999-12-31 23:59:59", "9999-01-01 00:00:00",
             "0000-01-01 00:00:00"]  # fmt: skip
DESCRIPTIONS = ["", "Facture", "  Piscine ", "Cantine \u00e9t\u00e9", "\u00a0x\u00a0", "a;b", "NA",
                "NULL", "nan"]  # fmt: skip
# an amount's spelling made odd ({} is its plain spelling)
ODD_AMOUNTS = ["+{}", "0{}", "{}0", "{}00", " {}", "{} ", "{}e0", "{}.", "{}1", "1e3", ".5",
               "-0", "-0.00", "1_000", "99999999999999999999", "123456789012345.00",
               "99999999999999.99", "{}\u00a0", "\u0661", "nan", "NA", "inf",
               "92233720368547758.07",
               # 39 digits that Arrow's decimal parser would wrap round 2^128 onto the plain
               # rows' amounts (``BASE``: 1250 JPY, 12.50 EUR, 1.250 KWD, and -1.2500 CLF
               # from a positive spelling): the reader finds them too large
               *(amount(2**128 + m, e) for m, e in ((1250, 0), (1250, 2), (1250, 3), (-12500, 4))),
               # more than the 18 places the reader reads: zeros, and 38 places that Arrow
               # would wrap round 2^128 onto 0.40 EUR (``BASE``'s first fee)
               "{}" + "0" * 17, "0." + "0" * 19, amount(2**128 + 40 * 10**36, 38),
               ]  # fmt: skip
ODD = {
    "balance_transaction_id": ODD_IDS,
    "automatic_payout_id": ODD_IDS,
    "source_id": ODD_IDS,
    "charge_id": ODD_IDS,
    "payment_intent_id": ODD_IDS,
    "reporting_category": ODD_CATEGORIES,
    "currency": ODD_CURRENCIES,
    "created": ODD_TIMES,
    "automatic_payout_effective_at": ODD_TIMES,
    "available_on": ODD_TIMES,
    "gross": ODD_AMOUNTS,
    "fee": ODD_AMOUNTS,
    "net": ODD_AMOUNTS,
}


# every odd spelling of every field, and a net that is not gross less fee (None)
PERTURBATIONS: list[tuple[str, str | None]] = [
    (f, v) for f, vs in sorted(ODD.items()) for v in vs
] + [("net", None)]


@st.composite
def rows(draw: st.DrawFn) -> dict[str, str]:
    """A row of plain spellings: the reader reads it, and the bulk path types it."""
    cur = draw(st.sampled_from(sorted(EXPONENT)))
    exp = EXPONENT[cur]
    gross, fee = draw(st.integers(-(10**8), 10**8)), draw(st.integers(-(10**4), 10**4))
    money = [amount(gross, exp), amount(fee, exp), amount(gross - fee, exp)]
    if exp and draw(st.booleans()):  # fewer places, as Stripe writes 0.5 for 0.50
        money = [t.rstrip("0").rstrip(".") if "." in t else t for t in money]
    optional = st.sampled_from(["", *IDS])
    payout = draw(optional)
    return {
        "balance_transaction_id": draw(st.sampled_from(IDS)),
        # a payout is in one currency: its id names it (``reports`` may put two in one)
        "automatic_payout_id": payout and f"{payout}-{cur.lower()}",
        "source_id": draw(optional),
        "charge_id": draw(optional),
        "payment_intent_id": draw(optional),
        "reporting_category": draw(st.sampled_from(CATEGORIES)),
        "created": draw(st.sampled_from(TIMES_OK)),
        "automatic_payout_effective_at": draw(st.sampled_from(["", *TIMES_OK])),
        "available_on": draw(st.sampled_from(["", *TIMES_OK])),
        "currency": cur,
        "gross": money[0],
        "fee": money[1],
        "net": money[2],
        "description": draw(st.sampled_from(DESCRIPTIONS)),
        "extra": draw(st.sampled_from(["", "x", " y ", "\u00e9"])),
    }


@dataclass
class Report:
    data: bytes
    plain: bool  # only plain spellings: the bulk path must type it, or refuse it as the reader
    once: bool  # a row put on another's balance transaction, or in another's payout


def repeat(body: list[dict[str, str]], i: int, j: int) -> None:
    """Row ``j`` on the balance transaction of row ``i``."""
    body[j]["balance_transaction_id"] = body[i]["balance_transaction_id"]


def join(body: list[dict[str, str]], i: int, j: int) -> None:
    """Row ``j`` in the payout of row ``i`` (of another currency, or not)."""
    body[i]["automatic_payout_id"] = body[i]["automatic_payout_id"] or "po_joined"
    body[j]["automatic_payout_id"] = body[i]["automatic_payout_id"]


@st.composite
def reports(draw: st.DrawFn) -> Report:
    header = draw(st.permutations(COLUMNS))
    names = [f"{c}_utc" if c in TIMES and not draw(st.integers(0, 4)) else c for c in header]
    if draw(st.booleans()):
        names.insert(draw(st.integers(0, len(names))), "extra")
    body = draw(
        st.lists(rows(), min_size=1, max_size=4, unique_by=lambda r: r["balance_transaction_id"])
    )
    odd = draw(st.sampled_from(["plain", "spelling", "spelling", "spelling", "once"]))
    plain = odd != "spelling"
    if odd == "once":  # a row on another's balance transaction, or in another's payout
        i, j = draw(st.integers(0, len(body) - 1)), draw(st.integers(0, len(body) - 1))
        draw(st.sampled_from([repeat, join]))(body, i, j)
    elif odd == "spelling":  # one field of one row spelt oddly, or its net one unit off
        row = draw(st.sampled_from(body))
        field, spelling = draw(st.sampled_from(PERTURBATIONS))
        if spelling is None:
            exp = EXPONENT[row["currency"]]
            net = round(Decimal(row["net"]).scaleb(exp)) + draw(st.sampled_from([-1, 1]))
            row["net"] = amount(net, exp)
        else:
            row[field] = spelling.format(row[field])
    lines = [",".join(r[n.removesuffix("_utc")] for n in names) for r in body]
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join([",".join(names), *lines]) + (end if draw(st.booleans()) else "")
    bom = codecs.BOM_UTF8 if draw(st.booleans()) else b""
    return Report(bom + text.encode(), plain, odd == "once")


Typed = tuple[list[PspLine], list[Payout], list[tuple[str, str]]]


def read(data: bytes) -> tuple[list[PspLine], list[Payout]] | str:
    """The Python reader's lines and payouts, or what it says when it refuses the report."""
    folder = ReportFolder()
    try:
        lines = [folder.add(r) for r in iter_stripe_payout_csv(data, "r.csv", max_bytes=10**6)]
    except SourceError as exc:
        return str(exc)
    return lines, folder.payouts()


def typed(data: bytes) -> Typed | str | None:
    """What the bulk path typed: the lines (as ``match`` gives back those it leaves), the payouts,
    and each line's category and join key as the pairing sees them; what it says when it
    refuses the report; None when the report goes to the reader."""
    shape = layout(data, "r.csv")
    if shape is None:
        return None
    columns, start = shape
    tmp = Path(tempfile.mkdtemp(prefix="regie-fuzz-"))
    con = connect(tmp)
    try:
        report = BulkReport(cast(Any, None), tmp, con)  # no engine: nothing reads the ledger
        try:
            if not report._load(data, start, columns, "r.csv"):
                return None
        except duckdb.Error:
            return None
        except SourceError as exc:
            return str(exc)
        every = q.LEFT_PSP.split("WHERE")[0] + "ORDER BY ord"
        lines = [_line(r) for r in con.execute(every).fetchall()]
        joins = con.execute("SELECT k, key FROM psp ORDER BY ord").fetchall()
        return lines, report.payouts, joins
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reports())
def test_the_bulk_path_types_a_report_as_the_reader_reads_it_or_not_at_all(report: Report) -> None:
    expected = read(report.data)
    got = typed(report.data)
    if report.plain:
        assert got is not None, "a report of plain spellings was sent to the reader"
        if not report.once:
            assert not isinstance(expected, str), f"a plain report the reader refuses: {expected}"
    agree(got, expected)


def agree(got: Typed | str | None, expected: tuple[list[PspLine], list[Payout]] | str) -> None:
    """The bulk path sent the report to the reader, refused it with the reader's words, or
    typed it as the reader reads it."""
    if got is None:
        return
    if isinstance(got, str):
        assert got == expected, "the bulk path refused a report otherwise than the reader"
        return
    assert not isinstance(expected, str), (
        f"the bulk path typed a report the reader refuses: {expected}"
    )
    lines, payouts, joins = got
    assert (lines, payouts) == expected
    # the pairing's view of each line: its category, and for a charge the id it joins on
    assert [k for k, _ in joins] == [x.category for x in lines]
    assert [key for k, key in joins if k == CHARGE] == [
        x.refs[0] if x.refs else None for x in lines if x.category == CHARGE
    ]


# one row in each exponent (cents, none, thousandths, ten-thousandths), each payout's own
BASE = [
    "po_1,2026-10-09 00:00:00,txn_e,2026-10-05 10:00:00,2026-10-07 00:00:00,eur,12.50,0.40,12.10,charge,ch_e,ch_e,pi_e,Cantine",
    "po_j,2026-10-09 00:00:00,txn_j,2026-10-05 10:01:00,,jpy,1250,40,1210,charge,ch_j,ch_j,pi_j,",
    "po_2,2026-10-16 00:00:00,txn_k,2026-10-05 10:02:00,,kwd,1.250,0.040,1.210,refund,re_k,ch_k,pi_k,x",
    ",,txn_c,2026-10-05 10:03:00,,clf,-1.2500,0.0400,-1.2900,payment,ch_c,ch_c,,",
]  # fmt: skip


@pytest.mark.parametrize("field", sorted(ODD))
def test_every_odd_spelling_of_a_field_in_every_currency(field: str) -> None:
    """Each odd spelling of ``field`` put in each row of a plain report in turn (hypothesis
    draws them too, but not each of them for sure)."""
    assert typed(("\n".join([",".join(COLUMNS), *BASE]) + "\n").encode()) is not None
    at = COLUMNS.index(field)
    for spelling in ODD[field]:
        for i in range(len(BASE)):
            body = [r.split(",") for r in BASE]
            body[i][at] = spelling.format(body[i][at])
            data = ("\n".join([",".join(COLUMNS), *map(",".join, body)]) + "\n").encode()
            agree(typed(data), read(data))


def test_every_row_on_another_rows_balance_transaction_or_payout() -> None:
    """Each row of a plain report (one currency a row) on each other row's balance
    transaction, or in its payout, refused by both with the same words."""
    body = [dict(zip(COLUMNS, r.split(","), strict=True)) for r in BASE]
    refused = 0
    for change in (repeat, join):
        for i in range(len(BASE)):
            for j in range(len(BASE)):
                if i != j:
                    rows = [dict(r) for r in body]
                    change(rows, i, j)
                    text = [",".join(COLUMNS), *(",".join(r[c] for c in COLUMNS) for r in rows)]
                    data = ("\n".join(text) + "\n").encode()
                    got, expected = typed(data), read(data)
                    refused += isinstance(got, str)
                    agree(got, expected)
    assert refused == 2 * 4 * 3


def test_a_report_of_very_many_columns_goes_to_the_reader() -> None:
    """A header of tens of thousands of columns (extra columns are allowed, and each is one
    Arrow column however short the file): pyarrow's reader took 12 s and 2.3 GB for 20 MB
    of such a report, where the Python reader takes a tenth of a second. Such a report
    goes to the reader, which reads it as it reads any other."""
    extra = [f"x{i}" for i in range(20_000)]
    header = ",".join(COLUMNS + extra)
    data = ("\n".join([header, *(row + "," * len(extra) for row in BASE)]) + "\n").encode()
    assert layout(data, "r.csv") is None
    lines, _payouts = cast(tuple[list[PspLine], list[Payout]], read(data))
    assert len(lines) == len(BASE)
    # a report with a few extra columns is still typed in bulk
    few = ",".join(COLUMNS + extra[:50])
    data = ("\n".join([few, *(row + "," * 50 for row in BASE)]) + "\n").encode()
    assert layout(data, "r.csv") is not None
    agree(typed(data), read(data))
