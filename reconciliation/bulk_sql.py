"""The SQL of the bulk path (``reconciliation.bulk``), run by DuckDB in the process.

The report is read as text columns (``read_csv``, every column a string), checked and typed
(``typed``), then joined with the ledger's payments, which PostgreSQL hands over with
``COPY``. Every check here is at least as strict as the Python reader's
(``sources.stripe_csv``): a row that passes gives the very values the reader gives. A row
that does not pass sends the whole report back to the Python reader, which says what is
wrong, or reads it its own way.

Amounts are read as text, their spelling and their places checked, then turned into integer
minor units by DuckDB's exact decimal cast times ten to the currency's exponent
(``"-12.5"`` euros is -12.5000 x 100, -1250 cents). No float and no rounding: a row with
more decimals than its currency has fails its check before any cast.
"""

# ruff: noqa: S608  (the SQL is built from constants and column names, never from a file's values)

from __future__ import annotations

from pathlib import Path

from reconciliation.normalise import _CATEGORY
from reconciliation.records import CHARGE, PAYOUT
from reconciliation.sources.stripe_csv import EARLIEST, LATEST, MAX_ID

FIELD_LIMIT = 131072  # Python's csv.field_size_limit(): a longer field is an error there
# A decimal as the reader takes it and writes it back: no sign but "-", no exponent, no
# space, no leading zero, digits on both sides of the point, no "-0" or "-0.00"; at most 18
# digits before the point (``_minor`` types 14 of them: a larger amount goes to the reader).
AMOUNT = r"(-?[1-9][0-9]{0,17}(\.[0-9]+)?|-?0\.0*[1-9][0-9]*|0(\.0+)?)"
# the three amounts joined with "|": one regular expression a row (each call costs more than
# the matching itself)
AMOUNTS = f"{AMOUNT}\\|{AMOUNT}\\|{AMOUNT}"
# The ids (joined with chr(1)) as the reader reads them: it strips each field of white space,
# so an id is taken as it is when it is ASCII (bytes as many as characters) and holds none of
# the white space ``str.strip`` removes in ASCII (tab to carriage return, the four separators
# and the space). A search for each of those bytes costs a tenth of the regular expression
# it replaces (``[!-~]``: 0.06 CPU-s a million rows against 0.21, 3 December).
_WHITE = (9, 10, 11, 12, 13, 28, 29, 30, 31, 32)
IDS_PLAIN = "strlen(ids) = length(ids) AND " + " AND ".join(
    f"NOT contains(ids, chr({c}))" for c in _WHITE
)
# A time is "YYYY-MM-DD hh:mm:ss" (UTC) when it is what DuckDB's cast reads it as, written
# back so: each part then has its two (or four) digits and is in its range, the day exists in
# its month, and no offset, fraction or "T" was read past (24:00:00 is read as the next day,
# and written back otherwise). 0.15 CPU-s a million rows, against 0.22 for a regular
# expression of the shape (3 December).
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _written_back(raw: str, at: str) -> str:
    return f"strftime({at}, '{TIME_FORMAT}') = {raw}"


# the instants the reader takes (``stripe_csv.EARLIEST``, ``LATEST``): DuckDB's TIMESTAMP is
# naive, read as UTC
_SINCE = f"TIMESTAMP '{EARLIEST:%Y-%m-%d %H:%M:%S}'"
_UNTIL = f"TIMESTAMP '{LATEST:%Y-%m-%d %H:%M:%S}'"


def _in_range(t: str) -> str:
    return f"({t} IS NULL OR ({t} >= {_SINCE} AND {t} < {_UNTIL}))"


# no id longer than the reader takes (``stripe_csv.MAX_ID``: the columns that keep them)
_ID_LENGTHS = " AND ".join(
    f"coalesce(length({c}), 0) <= {MAX_ID}" for c in ("txn", "payout", "cat", "pi", "ch", "src")
)

CATEGORY = (
    "CASE lower(cat) "
    + " ".join(f"WHEN '{word}' THEN '{cat}'" for word, cat in sorted(_CATEGORY.items()))
    + " ELSE 'other' END"
)


def read(path: str, n: int) -> str:
    """The report as ``n`` text columns ``c0``..``c{n-1}``, header skipped, in the file's
    order; a row with another number of fields, or bytes that are not UTF-8, fail the
    read."""
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n))
    return (
        f"SELECT * FROM read_csv('{path}', header = true, auto_detect = false, "
        f"delim = ',', quote = '\"', escape = '\"', strict_mode = true, "
        f"null_padding = false, columns = {{{cols}}})"
    )


def _minor(raw: str) -> str:
    """An amount of the right shape in minor units: DuckDB's exact decimal (``DECIMAL(18,
    4)``: a scaled 64-bit integer, never a float) times ten to the currency's exponent
    (``12.5`` euros: 12.5000 x 100, 1250 cents). Exact, since the row's check has already
    found no more decimals than the currency has (at most 4). An amount with more than 14
    digits before the point fails the cast, one whose minor units leave the decimal's range
    fails the statement (DuckDB refuses to overflow): either way the report goes to the
    Python reader. It was the digits without the point cast to an integer, times ten to the
    places the amount lacks: the decimal cast is 0.11 G instructions less on 100,000 rows
    (callgrind, one thread)."""
    return (
        f"CASE WHEN ok THEN CAST(TRY_CAST({raw} AS DECIMAL(18, 4)) * CASE e WHEN 0 THEN 1 "
        "WHEN 1 THEN 10 WHEN 2 THEN 100 WHEN 3 THEN 1000 WHEN 4 THEN 10000 END AS BIGINT) END"
    )


def exponent(cur: str, exponents: dict[str, int]) -> str:
    """The currency's exponent, from the few codes whose exponent is not 2 (an unknown code
    gets 2 here: ``REFUSED`` counts it). A search in a string of codes, not ``IN (...)``:
    DuckDB turns a long IN list (and ``list_contains`` of a constant list) into a join,
    which would not keep the file's order. The euro first, by comparison: regie's reports
    are in euros, and the three searches cost 0.14 G of 2.35 G instructions (callgrind,
    100,000 rows, one thread)."""
    assert exponents.get("EUR") == 2
    by: dict[int, list[str]] = {}
    for code, e in exponents.items():
        by.setdefault(e, []).append(code.upper())
    cases = " ".join(
        f"WHEN contains('|{'|'.join(sorted(codes))}|', concat('|', upper({cur}), '|')) THEN {e}"
        for e, codes in sorted(by.items())
        if e != 2
    )
    return f"CASE WHEN {cur} = 'EUR' OR {cur} = 'eur' THEN 2 {cases} ELSE 2 END"


def typed(source: str, col: dict[str, str], others: list[str], exponents: dict[str, int]) -> str:
    """The typed rows, in the file's order (the table keeps it: its ``rowid`` is the row's
    place; no join before it, which could reorder), with ``ok`` false on a row that fails a
    check. ``col`` gives the raw column of each field (``cN``, or a NULL when the header has
    none); ``others`` the raw columns whose length alone is checked; ``exponents`` each
    currency's (upper case)."""
    lengths = " AND ".join(f"coalesce(length({c}), 0) <= {FIELD_LIMIT}" for c in others)
    ids = ", ".join(("txn", "payout", "cat", "pi", "ch", "src"))
    raw = ", ".join(
        f"{col[k]} AS {k}" for k in ("txn", "payout", "cat", "pi", "ch", "src", "cur", "descr")
    )
    return f"""
    CREATE TABLE psp_rows AS
    SELECT txn, payout, cat, {CATEGORY} AS k, coalesce(pi, ch, src) AS key, pi, ch, src,
           upper(cur) AS cur, gross, fee, net, created, eff, descr,
           ok AND gross IS NOT NULL AND fee IS NOT NULL AND net IS NOT NULL
              AND gross - fee = net AND abs(gross) < 1000000000000000000
              AND abs(fee) < 1000000000000000000 AND abs(net) < 1000000000000000000 AS ok
    FROM (
      SELECT *, {_minor("g")} AS gross, {_minor("f")} AS fee, {_minor("n")} AS net
      FROM (
        SELECT *, coalesce(cur IN (upper(cur), lower(cur)) AND {lengths or "true"} AND txn IS NOT NULL AND cat IS NOT NULL
                 AND length(ids) <= {FIELD_LIMIT} AND {IDS_PLAIN}
                 AND regexp_full_match(concat(g, '|', f, '|', n), '{AMOUNTS}')
                 AND {_written_back("created_raw", "created")}
                 AND (eff_raw IS NULL OR {_written_back("eff_raw", "eff")})
                 AND (avail_raw IS NULL OR {_written_back("avail_raw", "avail")})
                 AND g_places <= e AND f_places <= e AND n_places <= e
                 AND created IS NOT NULL AND (eff_raw IS NULL OR eff IS NOT NULL)
                 AND (avail_raw IS NULL OR avail IS NOT NULL)
                 AND {_in_range("created")} AND {_in_range("eff")} AND {_in_range("avail")}
                 AND {_ID_LENGTHS}, false) AS ok
        FROM (
          SELECT *, TRY_CAST(created_raw AS TIMESTAMP) AS created,
                 TRY_CAST(eff_raw AS TIMESTAMP) AS eff, TRY_CAST(avail_raw AS TIMESTAMP) AS avail,
                 concat_ws(chr(1), {ids}) AS ids, {exponent("cur", exponents)} AS e,
                 -- the places after the point, by its position (0.17 G instructions less than
                 -- the length of what split_part cut after it; bytes and characters are the
                 -- same in an amount that passes the check, which is ASCII)
                 strlen(g) - coalesce(nullif(strpos(g, '.'), 0), strlen(g)) AS g_places,
                 strlen(f) - coalesce(nullif(strpos(f, '.'), 0), strlen(f)) AS f_places,
                 strlen(n) - coalesce(nullif(strpos(n, '.'), 0), strlen(n)) AS n_places
          FROM (
            SELECT {raw}, {col["gross"]} AS g, {col["fee"]} AS f, {col["net"]} AS n,
                   {col["created"]} AS created_raw, {col["eff"]} AS eff_raw,
                   {col["avail"]} AS avail_raw{"".join(", " + c for c in others)}
            FROM ({source})
          )
        )
      )
    )
    """


# the typed rows with their place in the file
PSP_VIEW = "CREATE VIEW psp AS SELECT rowid AS ord, * FROM psp_rows"
# whether a balance transaction is on two rows, which the reader refuses
# (``stripe_csv._Once``): one grouping of the typed rows (the pairing grouped them so before,
# to leave a repeated line to the rounds)
REPEATED = "SELECT count(*) <> count(DISTINCT txn) FROM psp_rows"
# then, only for a report refused: the first row whose balance transaction is on an earlier
# row, and the place of that row
FIRST_REPEATED = """
SELECT ord, txn, first FROM (
  SELECT ord, txn, min(ord) OVER (PARTITION BY txn) AS first FROM psp
  WHERE txn IN (SELECT txn FROM psp GROUP BY txn HAVING count(*) > 1)
) WHERE ord > first ORDER BY ord LIMIT 1
"""
# ... and the first row of a payout (of those given: in two currencies, by ``SUMMARY``) in
# another currency than the payout's first row, with that row's place and currency
FIRST_OTHER_CURRENCY = """
SELECT ord, payout, cur, first, first_cur FROM (
  SELECT ord, payout, cur, first_value(ord) OVER w AS first, first_value(cur) OVER w AS first_cur
  FROM psp WHERE list_contains(?, payout)
  WINDOW w AS (PARTITION BY payout ORDER BY ord)
) WHERE cur <> first_cur ORDER BY ord LIMIT 1
"""
# the rows that fail a check or whose currency the reader does not know, and all rows
REFUSED = """
SELECT count(*) FILTER (WHERE NOT ok OR cur NOT IN (SELECT code FROM recon_cur)), count(*)
FROM psp_rows
"""
# every ISO code the reader knows (upper case), given as one list
CURRENCIES = "CREATE TABLE recon_cur AS SELECT unnest(?::VARCHAR[]) AS code"


# the ledger's payments as PostgreSQL hands them over (``bulk_load.read_ledger``: one file,
# COPY ... CSV, ``ledger_reads._PAYMENTS_SQL``'s rows): the PSP's id, the entry, gross,
# currency, fee. Not the entry's instant: PostgreSQL's formatting of a million timestamps
# cost it 0.5 s, and only the payments left to the rounds need theirs (``bulk.BulkReport``
# reads those by entry id, ``ledger_reads.entry_times``)
def _part(path: Path, columns: str) -> str:
    return (f"read_csv('{path}', header = false, auto_detect = false, delim = ',', "
            f"quote = '\"', escape = '\"', strict_mode = true, columns = {{{columns}}})")  # fmt: skip


def ledger_read(parts: dict[str, Path]) -> str:
    """The ledger's payments of one read (``LEDGER_VIEW`` numbers them)."""
    p = _part(parts["payments"], "'ref': 'VARCHAR', 'entry': 'VARCHAR', 'gross': 'BIGINT', "
              "'cur': 'VARCHAR', 'fee': 'BIGINT'")  # fmt: skip
    return f"SELECT ref, entry, gross, cur, fee FROM {p}"


# the ledger's payments (``led_rows``: every read's, one after the other) numbered
LEDGER_VIEW = "CREATE VIEW led AS SELECT rowid AS ord, * FROM led_rows"


# The pairs the rounds would match with nothing else to say (see ``records.Settled``): each
# charge line's first id (``key``) joined with the ledger's payments (one hash join, full:
# what has no partner is kept too). A pair is one line and one payment (no other charge
# line has the key, no other payment has the id) whose amount, currency and fee agree,
# unless a charge line names the key as another id (its charge or source: a source that is
# its charge is named once). No balance transaction id is repeated: a report that repeats
# one is refused when it is typed (``REPEATED``). Only what is *not* a pair is kept (a few
# thousand rows, where the pairs are a million): what was settled is the report less what is
# left (``SUMMARY`` less ``LEFT_PSP``). The repeated ids are counted by grouping (hashes),
# not by a window over the join (a sort: twice the time).
UNPAIRED = f"""
CREATE TABLE recon_unpaired AS
SELECT psp_ord, led_ord FROM (
  SELECT c.key, c.ord AS psp_ord, l.ord AS led_ord, c.txn,
         c.cur = l.cur AND c.gross = l.gross AND c.fee = l.fee AS same
  FROM (SELECT * FROM psp WHERE k = '{CHARGE}') c
  FULL JOIN led l ON l.ref = c.key
) j
WHERE psp_ord IS NULL OR led_ord IS NULL OR NOT same
  OR key IN (SELECT key FROM psp WHERE k = '{CHARGE}' GROUP BY key HAVING count(*) > 1)
  OR key IN (SELECT ref FROM led GROUP BY ref HAVING count(*) > 1)
  OR key IN (
    SELECT ch FROM psp WHERE k = '{CHARGE}' AND ch <> coalesce(pi, ch)
    UNION ALL
    SELECT src FROM psp WHERE k = '{CHARGE}' AND src <> key AND src IS DISTINCT FROM ch
  )
"""
# what is left of each side: every line but a charge, and the rows not paired
LEFT_PSP = f"""
SELECT txn, payout, cat, pi, ch, src, cur, gross, fee, net, created, eff, descr
FROM psp
WHERE k <> '{CHARGE}' OR ord IN (SELECT psp_ord FROM recon_unpaired WHERE psp_ord IS NOT NULL)
ORDER BY ord
"""
# (``bulk.BulkReport.match`` sorts them as the pure path reads them once it has their instants:
# instant, entry, amount, currency)
LEFT_LEDGER = """
SELECT ref, entry, gross, cur, fee
FROM led WHERE ord IN (SELECT led_ord FROM recon_unpaired WHERE led_ord IS NOT NULL)
ORDER BY ord
"""
# the report per payout and currency, in one pass: what ``normalise.ReportFolder`` folds (every
# row's net, and the first row of each payout), and what the run needs per currency (lines,
# first and last time), and a payout in two currencies (two groups: the report is refused);
# then the first rows' currency and effective day (or creation day)
SUMMARY = """
SELECT payout, cur, count(*), min(created), max(created), sum(gross), sum(net), min(ord)
FROM psp GROUP BY payout, cur
"""
FIRST_ROWS = "SELECT ord, cur, coalesce(eff, created) FROM psp WHERE list_contains(?, ord)"
# what came back of each payout another payout carried its failure for: the payout lines
# moving money back into the balance whose object (``key``: the failed payout) is not the
# payout listing them (``normalise.failure_back``, ``normalise.report_payouts``)
RETURNED = f"""
SELECT key, sum(net) FROM psp
WHERE k = '{PAYOUT}' AND net > 0 AND payout IS NOT NULL AND key IS NOT NULL AND key <> payout
GROUP BY key
"""

# the checksum's lines of the ledger's payments (``digest.ledger_text``) without their
# newline, and the order they are hashed in (the report is hashed as a file: ``digest.psp_text``):
# an entry's two lines on the PSP's account by their values, never by where PostgreSQL keeps
# them (two lines equal in every value are the same checksum line, whichever comes first)
LEDGER_LINE = "concat('L|payment|', ref, '|', gross, '|', fee, '|', cur, '|', entry)"
LEDGER_ORDER = "ref, entry, gross, cur, fee"


def lines_file(line: str, order: str, table: str, path: Path) -> str:
    """A table's checksum lines written to ``path`` in order, one a line. DuckDB's CSV
    writer, with one column, writes each line as it is followed by a newline, unless the
    line holds a tab, a quote, a carriage return or a newline: then it quotes it, and the
    file holds a quote (``bulk.BulkReport._hash_file`` looks, and uses ``text`` instead)."""
    return (f"COPY (SELECT {line} FROM {table} ORDER BY {order}) TO '{path}' "
            "(FORMAT csv, HEADER false, DELIMITER '\t', QUOTE '\"')")  # fmt: skip


def text(line: str, order: str, table: str) -> str:
    """A table's checksum lines in order, in blocks of 16,384 lines (each block one text,
    the blocks in order): the lines are sorted once, each block joined on its own, so no
    text of the whole table is ever built."""
    return f"""
    WITH s AS (SELECT concat({line}, chr(10)) AS line,
                      row_number() OVER (ORDER BY {order}) - 1 AS n
               FROM {table})
    SELECT n // 16384 AS block, string_agg(line, '' ORDER BY n) FROM s GROUP BY block
    ORDER BY block
    """
