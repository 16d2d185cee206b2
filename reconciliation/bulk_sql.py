"""The SQL of the bulk path (``reconciliation.bulk``), PostgreSQL only.

The report's rows are copied raw into a temporary table (one text column per header
column), checked and typed in SQL (``TYPED``), then joined with the ledger's payments. Every
check here is at least as strict as the Python reader's (``sources.stripe_csv``): a row that
passes gives the very values the reader gives. A row that does not pass sends the whole
report back to the Python reader, which says what is wrong, or reads it its own way.
"""

# ruff: noqa: S608  (the SQL is built from constants and column positions, never from a file's values)

from __future__ import annotations

from reconciliation.normalise import _CATEGORY
from reconciliation.records import CHARGE, DISPUTE, REFUND

# What the reader reads the same way, checked cheaply (regular expressions cost a
# microsecond a field): ids in printable ASCII without a backslash (COPY TO would escape
# it), decimals that come back from ``numeric`` as written (so no sign but "-", no exponent,
# no space, no leading zero) with no more decimals than the currency has (``12.500`` euros
# goes to the reader), and times that come back from ``timestamp`` as written
# ("YYYY-MM-DD hh:mm:ss", UTC, DateStyle ISO). A value that makes a cast fail makes the
# statement fail: the Python reader then says what is wrong.
_IDS = "^[!-~\x01]+$"  # the ids joined with chr(1)
FIELD_LIMIT = 131072  # Python's csv.field_size_limit(): a longer field is an error there


def _time_ok(raw: str, ts: str, required: bool) -> str:
    ok = f"{ts}::text = {raw}"
    return f"({raw} IS NOT NULL AND {ok})" if required else f"({raw} IS NULL OR {ok})"


def _amount_ok(raw: str, value: str, minor: str) -> str:
    """Written as ``numeric`` writes it back, with no more decimals than the currency has
    (then ``value * 10^e`` is the exact amount in minor units), under 10^18 minor units."""
    return f"({value}::text = {raw} AND scale({value}) <= e AND abs({minor}) < 1000000000000000000)"


CATEGORY = (
    "CASE lower(cat) "
    + " ".join(f"WHEN '{word}' THEN '{cat}'" for word, cat in sorted(_CATEGORY.items()))
    + " ELSE 'other' END"
)


def _refs(a: str, b: str, c: str) -> str:
    """``normalise._refs`` in SQL: the non-empty ids, each once, joined with commas."""
    return (
        f"concat_ws(',', {a}, CASE WHEN {b} IS DISTINCT FROM {a} THEN {b} END, "
        f"CASE WHEN {c} IS DISTINCT FROM {a} AND {c} IS DISTINCT FROM {b} THEN {c} END)"
    )


def raw_table(n: int, start: int = 1) -> str:
    cols = ", ".join(f"c{i} text" for i in range(n))
    # the rows' order in the file, from ``start`` (a sequence that hands out numbers in
    # blocks: one call per row costs a third of the COPY)
    return (
        "CREATE TEMP TABLE recon_csv (ord bigint GENERATED ALWAYS AS IDENTITY "
        f"(START WITH {int(start)} CACHE 100000), {cols}) ON COMMIT DROP"
    )


def typed(col: dict[str, str], others: list[str]) -> str:
    """The typed rows. ``col`` gives the raw column of each field (``r.cN``, or ``NULL::text``
    when the header has none); ``others`` the raw columns whose length alone is checked."""
    lengths = " AND ".join(f"coalesce(length({c}), 0) <= {FIELD_LIMIT}" for c in others)
    ids = ", ".join(col[k] for k in ("txn", "payout", "cat", "pi", "ch", "src"))
    return f"""
    CREATE TEMP TABLE recon_psp ON COMMIT DROP AS
    SELECT ord, txn, payout, cat, {CATEGORY} AS k, coalesce(pi, ch, src) AS key, pi, ch, src,
           upper(cur) AS cur, gross, fee, net,
           created0 AT TIME ZONE 'UTC' AS created, eff0 AT TIME ZONE 'UTC' AS eff, descr
    FROM (
      -- in minor units (rounded when the amount has more decimals than the currency: such
      -- a row fails its check below)
      SELECT t.*, (g0 * m)::bigint AS gross, (f0 * m)::bigint AS fee, (n0 * m)::bigint AS net
      FROM (
        SELECT r.ord, {col["txn"]} AS txn, {col["payout"]} AS payout, {col["cat"]} AS cat,
               {col["pi"]} AS pi, {col["ch"]} AS ch, {col["src"]} AS src,
               {col["cur"]} AS cur, {col["descr"]} AS descr, x.m, x.e,
               {col["gross"]} AS g_raw, {col["fee"]} AS f_raw, {col["net"]} AS n_raw,
               {col["gross"]}::numeric AS g0, {col["fee"]}::numeric AS f0,
               {col["net"]}::numeric AS n0,
               {col["created"]} AS created_raw, {col["created"]}::timestamp AS created0,
               {col["eff"]} AS eff_raw, {col["eff"]}::timestamp AS eff0,
               {col["avail"]} AS avail_raw, {col["avail"]}::timestamp AS avail0,
               concat_ws(chr(1), {ids}) AS ids, {lengths or "true"} AS lengths_ok
        FROM recon_csv r JOIN recon_cur x ON x.code = {col["cur"]}
        OFFSET 0  -- each cast once per row (not inlined into every use of its result)
      ) t
      OFFSET 0  -- each product once per row
    ) u
    WHERE lengths_ok AND txn IS NOT NULL AND cat IS NOT NULL
      AND ids ~ '{_IDS}' AND strpos(ids, chr(92)) = 0 AND length(ids) <= {FIELD_LIMIT}
      AND {_time_ok("created_raw", "created0", True)} AND {_time_ok("eff_raw", "eff0", False)}
      AND {_time_ok("avail_raw", "avail0", False)}
      AND {_amount_ok("g_raw", "g0", "gross")} AND {_amount_ok("f_raw", "f0", "fee")}
      AND {_amount_ok("n_raw", "n0", "net")} AND gross - fee = net
    """


# every ISO code the reader knows, as Stripe writes it (lower case) and upper case: a row whose
# currency is neither (unknown, mixed case, blank) drops out of the join, and the report goes
# back to the Python reader
CURRENCIES = """
CREATE TEMP TABLE recon_cur ON COMMIT DROP AS
SELECT code, m, e FROM unnest($1::text[], $2::numeric[], $3::int[]) AS c(code, m, e)
"""

# the report's ledger payments, read beside the report on another connection and copied in
# (binary); rows of the same entry come in no set order (the Python path's neither)
LEDGER_TABLE = """
CREATE TEMP TABLE recon_led (ord bigint, ref text, entry text, at timestamptz, gross bigint,
                             cur text, fee bigint) ON COMMIT DROP
"""
_LEDGER_ROWS = """
SELECT q.ref::text, q.entry::text, q.at, q.gross::bigint, q.cur::text,
       (CASE WHEN q.fee_cur = q.cur THEN q.fee ELSE 0 END)::bigint
FROM ({query}) AS q(ref, entry, at, gross, cur, fee, fee_cur)
"""
LEDGER_EXPORT = "SELECT row_number() OVER (), r.* FROM (" + _LEDGER_ROWS + ") r"
# a slice of the window the reader did not read, added in place
LEDGER_MORE = (
    "INSERT INTO recon_led SELECT row_number() OVER () + "
    "(SELECT coalesce(max(ord), 0) FROM recon_led), r.* FROM (" + _LEDGER_ROWS + ") r"
)

# The pairs the rounds would match with nothing else to say (see ``records.Settled``): each
# charge line's first id (``key``) joined with the ledger's payments (one hash join, full:
# what has no partner is kept too). A key that gives exactly one row of the join has one
# line and one payment (n lines and m payments give n x m rows); it is a pair when their
# amount, currency and fee agree, unless a charge line names the key as another id (its
# charge or source: a source that is its charge is named once), or the line's balance
# transaction id is repeated. Only what is *not* a pair is kept (a few thousand rows' numbers,
# where the pairs are a million): what was settled is the report less what is left
# (``SUMMARY`` less ``LEFT_PSP``).
UNPAIRED = f"""
CREATE TEMP TABLE recon_unpaired ON COMMIT DROP AS
SELECT psp_ord, led_ord FROM (
  SELECT c.key, c.ord AS psp_ord, l.ord AS led_ord, c.txn,
         c.cur = l.cur AND c.gross = l.gross AND c.fee = l.fee AS same,
         count(*) OVER (PARTITION BY coalesce(c.key, l.ref)) AS n
  FROM (SELECT * FROM recon_psp WHERE k = '{CHARGE}') c
  FULL JOIN recon_led l ON l.ref = c.key
) j
WHERE psp_ord IS NULL OR led_ord IS NULL OR n <> 1 OR NOT same
  OR key IN (
    SELECT ch FROM recon_psp WHERE k = '{CHARGE}' AND ch <> coalesce(pi, ch)
    UNION ALL
    SELECT src FROM recon_psp WHERE k = '{CHARGE}' AND src <> key AND src IS DISTINCT FROM ch
  )
  OR txn IN (SELECT txn FROM recon_psp GROUP BY txn HAVING count(*) > 1)
"""
# what is left of each side: every line but a charge, and the rows not paired
LEFT_PSP = f"""
SELECT txn, payout, cat, pi, ch, src, cur, gross, fee, net, created, eff, descr
FROM recon_psp
WHERE k <> '{CHARGE}' OR ord IN (SELECT psp_ord FROM recon_unpaired WHERE psp_ord IS NOT NULL)
ORDER BY ord
"""
LEFT_LEDGER = """
SELECT ref, entry, at, gross, cur, fee
FROM recon_led WHERE ord IN (SELECT led_ord FROM recon_unpaired WHERE led_ord IS NOT NULL)
ORDER BY at, entry, ord
"""
# the report per payout and currency, in one pass: what ``normalise.ReportFolder`` folds (every
# row's net, and the first row of each payout), and what the run needs per currency (lines,
# first and last time); then the first rows' currency and effective day (or creation day)
SUMMARY = """
SELECT payout, cur, count(*), min(created), max(created), sum(gross), sum(net), min(ord)
FROM recon_psp GROUP BY payout, cur
"""
FIRST_ROWS = "SELECT ord, cur, coalesce(eff, created) FROM recon_psp WHERE ord = ANY($1::bigint[])"

# the checksum's lines (``digest.psp_text``, ``digest.ledger_text``) in the same order, for
# COPY TO (which ends each with a newline)
PSP_TEXT = f"""
  SELECT format('P|%s|%s|%s|%s|%s|%s|%s|%s', txn, k, CASE WHEN k IN ('{REFUND}', '{DISPUTE}')
         THEN {_refs("src", "pi", "ch")} ELSE {_refs("pi", "ch", "src")} END,
         gross, fee, net, cur, coalesce(payout, 'None'))
  FROM recon_psp
  ORDER BY txn COLLATE "C", ord
"""
LEDGER_TEXT = """
  SELECT format('L|payment|%s|%s|%s|%s|%s', ref, gross, fee, cur, entry)
  FROM recon_led ORDER BY ref COLLATE "C", entry COLLATE "C", ord
"""
