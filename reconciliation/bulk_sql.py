"""The SQL of the bulk path (``reconciliation.bulk``), run by DuckDB in the process.

The report comes typed by Arrow (``bulk_typing.typed``; DuckDB scans that table where it
lies, as ``psp_rows``), and is joined with the ledger's payments, which PostgreSQL hands over
with ``COPY``. Amounts are integer minor units on both sides: no float anywhere.
"""

# ruff: noqa: S608  (the SQL is built from constants and column names, never from a file's values)

from __future__ import annotations

from pathlib import Path

from reconciliation.records import CHARGE, PAYOUT

# the typed rows with their place in the file
PSP_VIEW = "CREATE VIEW psp AS SELECT * FROM psp_rows"
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
# what came back of each payout another payout carried its failure for: the payouts'
# reversals (``payout_reversal``; negative for a negative payout) whose object (``key``: the
# failed payout) is not the payout listing them (``normalise.failure_back``, ``report_payouts``)
RETURNED = f"""
SELECT key, sum(net) FROM psp
WHERE k = '{PAYOUT}' AND lower(cat) = 'payout_reversal' AND payout IS NOT NULL
  AND key IS NOT NULL AND key <> payout
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
