"""An uploaded Stripe report typed by Arrow, in memory, for the bulk path (``reconciliation.bulk``).

Pure: bytes in, an Arrow table out, nothing written anywhere. pyarrow's CSV reader splits the
report into text columns on its threads, and its compute kernels check and type them a column
at a time (each kernel lets go of the GIL, so two columns are checked at once). DuckDB then
scans the table where it lies (``bulk_load.load_report``), without copying a million rows
into a table of its own: that copy, and DuckDB's own CSV reader, were most of the typing's
time (1.0 s of 1.2 for a million lines, against 0.5 s here; ``docs/benchmarks-journal.md``).

Every check is at least as strict as the Python reader's (``sources.stripe_csv``): a report
typed here gives the very values the reader gives. Any row that is not plainly right sends
the whole report back to the reader (``typed`` gives None), which reads it its own way or says
what is wrong, with its line. Only the spellings below are typed:

- an id (balance transaction, payout, category, the three source ids): printable ASCII with
  no space, at most ``MAX_ID`` characters (the reader strips white space; here there is none
  to strip), or nothing;
- a currency: a code the reader knows, in any case (``str.upper``, as the reader does);
- an amount: ``-?digits[.digits]`` (no ``+``, no exponent, no space), at most 14 digits
  before the point and 18 after it, and no more places than the currency has, zeros aside
  (``12.5``, ``12.50``, ``12.500``, ``-0.40``); its minor units come from Arrow's exact
  decimal type, never a float;
- a time: ``YYYY-MM-DD hh:mm:ss`` exactly, a real instant (Arrow's ISO 8601 parser refuses
  30 February and 24:00, and the instant written back must be the text), from 2000 to 9998;
- any other field: at most ``FIELD_LIMIT`` characters, as Python's csv module allows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from reconciliation.normalise import _CATEGORY
from reconciliation.sources.stripe_csv import EARLIEST, LATEST, MAX_ID
from regie.kit.money import CURRENCIES

FIELD_LIMIT = 131072  # Python's csv.field_size_limit(): a longer field is an error there
WHOLE_DIGITS = 14  # before the point: 10^14 in minor units of four places fits a BIGINT
# A decimal as the reader reads it (``values._SIGNED``: ASCII digits, "-" the only sign, no
# exponent, no space, digits on both sides of a point, at most 18 places), with at most
# ``WHOLE_DIGITS`` digits before the point. Checked here, not left to the cast: Arrow's
# decimal parser takes "+", exponents and spaces, and wraps a number of 39 digits or more
# round 2^128 (2^128 + 1250 is 1250 to it) instead of refusing it; 14 + 18 digits never do.
AMOUNT = rf"^-?[0-9]{{1,{WHOLE_DIGITS}}}(\.[0-9]{{1,18}})?$"

# matching's field -> the report's column (times: the ``_utc`` column when there is one)
FIELDS = {
    "txn": "balance_transaction_id",
    "payout": "automatic_payout_id",
    "eff": "automatic_payout_effective_at",
    "created": "created",
    "avail": "available_on",
    "cur": "currency",
    "gross": "gross",
    "fee": "fee",
    "net": "net",
    "cat": "reporting_category",
    "src": "source_id",
    "ch": "charge_id",
    "pi": "payment_intent_id",
    "descr": "description",
}
TIMES = ("eff", "created", "avail")
IDS = ("txn", "payout", "cat", "pi", "ch", "src")
AMOUNTS = ("gross", "fee", "net")
THREADS = 2  # the columns checked at once


def _jemalloc() -> None:
    """Arrow's buffers from jemalloc where pyarrow has it (its Linux wheels): with mimalloc,
    the default of recent wheels, a year's report cost 0.5 s more of the kernel's time (a
    page fault for each page of each buffer, 1.3-1.6 s of system time against 0.8-0.9) and
    about 150 MiB more at the peak (``python -m bench.reconcile``, 4 December)."""
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # a pyarrow built without it: its default pool
        pass


_jemalloc()


class NotPlain(Exception):
    """A field this module does not type: the report goes to the Python reader."""


def typed(data: bytes | memoryview, header: list[str]) -> pa.Table | None:
    """The report's rows (``data``: its text after the byte order mark, header line included)
    typed, in the file's order, as ``bulk_load.load_report`` wants them: every line after the
    header is a row (``ignore_empty_lines`` off: a blank line, which the reader skips, is a
    row of nothing, which is not plain), so a row's place plus 2 is its line. None when a row
    is not plainly right (see the module's docstring), or when pyarrow cannot read the file
    (a row with another number of fields, bytes that are not UTF-8)."""
    try:
        return _typed(data, header)
    except (NotPlain, pa.ArrowException):
        return None


def _typed(data: bytes | memoryview, header: list[str]) -> pa.Table:
    names = [f"c{i}" for i in range(len(header))]
    table = pcsv.read_csv(
        pa.py_buffer(data),
        read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, use_threads=True),
        parse_options=pcsv.ParseOptions(quote_char=False, ignore_empty_lines=False),
        convert_options=pcsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=[""],  # not "NA", "NULL", "nan" ...: the reader takes those as text
            strings_can_be_null=True,
        ),
    )
    index = {name: i for i, name in enumerate(header)}
    col: dict[str, Any] = {}
    taken: set[int] = set()  # the columns typed (a time beside its ``_utc`` column is not)
    for field, name in FIELDS.items():
        if field in TIMES and f"{name}_utc" in index:
            name = f"{name}_utc"
        col[field] = table.column(index[name]) if name in index else None
        if field != "descr" and name in index:
            taken.add(index[name])
    others = [table.column(i) for i in range(len(header)) if i not in taken]
    for field in ("txn", "cat", "created", "cur", *AMOUNTS):
        if col[field] is None or col[field].null_count:
            raise NotPlain(field)
    cur, exponent = _currencies(col["cur"])
    jobs: dict[str, Callable[[], Any]] = {f: partial(_minor, col[f], exponent) for f in AMOUNTS}
    jobs |= {f: partial(_time, col[f], repeated=f == "eff") for f in TIMES}
    jobs |= {f"id {f}": partial(_id, col[f]) for f in IDS}
    jobs |= {f"text {i}": partial(_short, c) for i, c in enumerate(others)}
    jobs["k"] = partial(_category, col["cat"])
    with ThreadPoolExecutor(THREADS, thread_name_prefix="regie-typing") as pool:
        done = {name: pool.submit(job) for name, job in jobs.items()}
        got = {name: future.result() for name, future in done.items()}
    gross, fee, net = (got[f] for f in AMOUNTS)
    if not _all(pc.equal(pc.subtract(gross, fee), net)):
        raise NotPlain("net")
    n = table.num_rows
    text = {f: _or_nulls(col[f], n, pa.string()) for f in ("payout", "pi", "ch", "src", "descr")}
    return pa.table(
        {
            # each row's place in the file: 0 .. n-1 (txn, checked above, is never missing)
            "ord": pc.cast(pc.indices_nonzero(pc.is_valid(col["txn"])), pa.int64()),
            "txn": col["txn"],
            "payout": text["payout"],
            "cat": col["cat"],
            "k": got["k"],
            "key": pc.coalesce(text["pi"], text["ch"], text["src"]),
            "pi": text["pi"],
            "ch": text["ch"],
            "src": text["src"],
            "cur": cur,
            "gross": gross,
            "fee": fee,
            "net": net,
            "created": got["created"],
            "eff": _or_nulls(got["eff"], n, pa.timestamp("us")),
            "descr": text["descr"],
        }
    )


def _all(flags: Any) -> bool:
    """Every flag true, and none missing (no flag at all: true)."""
    return len(flags) == 0 or (flags.null_count == 0 and bool(pc.all(flags).as_py()))


def _currencies(raw: Any) -> tuple[Any, Any]:
    """Each row's currency code and its exponent, looked up once per distinct spelling, as
    the reader looks them up (``str.upper``, then ``CURRENCIES``); a code it does not know
    is not plain."""
    codes = pc.dictionary_encode(raw.combine_chunks())
    upper: list[str] = []
    exponents: list[int] = []
    for spelling in codes.dictionary.to_pylist():
        code = spelling.upper()
        if code not in CURRENCIES:
            raise NotPlain("currency")
        upper.append(code)
        exponents.append(CURRENCIES[code])
    return (
        pc.take(pa.array(upper, pa.string()), codes.indices),
        pc.take(pa.array(exponents, pa.int8()), codes.indices),
    )


def _minor(raw: Any, exponent: Any) -> Any:
    """An amount column in minor units (``int64``): the text's shape and length checked
    (``AMOUNT``), then Arrow's exact decimal cast at each exponent's scale (it refuses a
    place the scale would lose), times ten to the exponent."""
    if not _all(pc.match_substring_regex(raw, AMOUNT)):
        raise NotPlain("amount")
    exponents = sorted(pc.unique(exponent).to_pylist())
    if not exponents:  # no row
        return pa.array([], pa.int64())
    if len(exponents) == 1:
        return _units(raw, exponents[0])
    minor = None
    for e in exponents:  # one cast a scale, the other rows' text made "0" for it
        here = pc.equal(exponent, pa.scalar(e, pa.int8()))
        units = _units(pc.if_else(here, raw, pa.scalar("0")), e)
        minor = units if minor is None else pc.if_else(here, units, minor)
    return minor


def _units(raw: Any, e: int) -> Any:
    scaled = pc.cast(raw, pa.decimal128(WHOLE_DIGITS + e, e))  # a place lost raises
    return pc.cast(pc.multiply(scaled, pa.scalar(10**e, pa.decimal128(5, 0))), pa.int64())


def _time(raw: Any, repeated: bool = False) -> Any:
    """A time column as instants (``timestamp[us]``, naive, read as UTC), or None when the
    report has no such column. Arrow's ISO 8601 cast refuses a day or an hour that does not
    exist; written back, the instant must be the very text (no ``T``, no missing seconds,
    no fraction or offset). A column of few values (``repeated``: a payout's effective
    time, the same on each of its lines) is checked once per value."""
    if raw is None:
        return None
    if repeated:
        values = pc.dictionary_encode(raw.combine_chunks())
        return pc.take(_time(values.dictionary), values.indices)
    at = pc.cast(raw, pa.timestamp("s"))  # an impossible instant raises: not plain
    if not _all(pc.equal(pc.fill_null(pc.cast(at, pa.string()), ""), pc.fill_null(raw, ""))):
        raise NotPlain("time")
    # in seconds: Arrow reads year 0, which no Python datetime holds
    span = pc.min_max(pc.cast(at, pa.int64()))
    low, high = span["min"].as_py(), span["max"].as_py()
    if low is not None and not (low >= EARLIEST.timestamp() and high < LATEST.timestamp()):
        raise NotPlain("time range")
    return pc.cast(at, pa.timestamp("us"))


def _id(raw: Any) -> None:
    """An id column's spellings: printable ASCII without a space, at most ``MAX_ID`` long."""
    if raw is None or raw.null_count == len(raw):
        return
    if not (
        pc.all(pc.ascii_is_printable(raw)).as_py()
        and not pc.any(pc.match_substring(raw, " ")).as_py()
        and pc.max(pc.binary_length(raw)).as_py() <= MAX_ID
    ):
        raise NotPlain("id")


def _short(raw: Any) -> None:
    """A column of free text no longer than Python's csv module reads."""
    if raw is not None and raw.null_count < len(raw):
        if pc.max(pc.utf8_length(raw)).as_py() > FIELD_LIMIT:
            raise NotPlain("field too long")


def _category(raw: Any) -> Any:
    """Each row's category as matching names it (``normalise._CATEGORY``, else ``other``),
    looked up once per distinct spelling."""
    cats = pc.dictionary_encode(raw.combine_chunks())
    kinds = [_CATEGORY.get(c.lower(), "other") for c in cats.dictionary.to_pylist()]
    return pc.take(pa.array(kinds, pa.string()), cats.indices)


def _or_nulls(column: Any, n: int, kind: Any) -> Any:
    """A column, or ``n`` nulls of ``kind`` when the report has none."""
    return pa.nulls(n, kind) if column is None else column
