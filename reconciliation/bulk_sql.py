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
# no space, no leading zero) with at most 18 decimals, and times that come back from
# ``timestamp`` as written ("YYYY-MM-DD hh:mm:ss", UTC, DateStyle ISO). A value that makes
# a cast fail makes the statement fail: the Python reader then says what is wrong.
_IDS = "^[!-~\x01]+$"  # the ids joined with chr(1)
FIELD_LIMIT = 131072  # Python's csv.field_size_limit(): a longer field is an error there


def _time_ok(raw: str, ts: str, required: bool) -> str:
    ok = f"{ts}::text = {raw}"
    return f"({raw} IS NOT NULL AND {ok})" if required else f"({raw} IS NULL OR {ok})"


def _amount_ok(raw: str, value: str) -> str:
    return f"({value}::text = {raw} AND length(split_part({raw}, '.', 2)) <= 18)"


CATEGORY = (
    "CASE lower(cat) "
    + " ".join(f"WHEN '{word}' THEN '{cat}'" for word, cat in sorted(_CATEGORY.items()))
    + " ELSE 'other' END"
)
CHARGE_WORDS = ", ".join(f"'{w}'" for w, c in sorted(_CATEGORY.items()) if c == CHARGE)


def _refs(a: str, b: str, c: str) -> str:
    """``normalise._refs`` in SQL: the non-empty ids, each once, joined with commas."""
    return (
        f"concat_ws(',', {a}, CASE WHEN {b} IS DISTINCT FROM {a} THEN {b} END, "
        f"CASE WHEN {c} IS DISTINCT FROM {a} AND {c} IS DISTINCT FROM {b} THEN {c} END)"
    )


def raw_table(n: int) -> str:
    cols = ", ".join(f"c{i} text" for i in range(n))
    return f"CREATE TEMP TABLE recon_csv (ord bigserial, {cols}) ON COMMIT DROP"


def typed(col: dict[str, str], others: list[str]) -> str:
    """The typed rows. ``col`` gives the raw column of each field (``r.cN``, or ``NULL::text``
    when the header has none); ``others`` the raw columns whose length alone is checked."""
    lengths = " AND ".join(f"coalesce(length({c}), 0) <= {FIELD_LIMIT}" for c in others)
    ids = ", ".join(col[k] for k in ("txn", "payout", "cat", "pi", "ch", "src"))
    return f"""
    CREATE TEMP TABLE recon_psp ON COMMIT DROP AS
    SELECT ord, txn, payout, cat, pi, ch, src, upper(cur) AS cur, (g0 * m)::bigint AS gross,
           (f0 * m)::bigint AS fee, (n0 * m)::bigint AS net,
           created0 AT TIME ZONE 'UTC' AS created, eff0 AT TIME ZONE 'UTC' AS eff, descr
    FROM (
      SELECT r.ord, {col["txn"]} AS txn, {col["payout"]} AS payout, {col["cat"]} AS cat,
             {col["pi"]} AS pi, {col["ch"]} AS ch, {col["src"]} AS src,
             {col["cur"]} AS cur, {col["descr"]} AS descr, x.m,
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
    WHERE lengths_ok AND txn IS NOT NULL AND cat IS NOT NULL
      AND ids ~ '{_IDS}' AND strpos(ids, chr(92)) = 0 AND length(ids) <= {FIELD_LIMIT}
      AND {_time_ok("created_raw", "created0", True)} AND {_time_ok("eff_raw", "eff0", False)}
      AND {_time_ok("avail_raw", "avail0", False)}
      AND {_amount_ok("g_raw", "g0")} AND {_amount_ok("f_raw", "f0")}
      AND {_amount_ok("n_raw", "n0")}
      AND g0 * m = trunc(g0 * m) AND f0 * m = trunc(f0 * m) AND n0 * m = trunc(n0 * m)
      AND g0 - f0 = n0 AND abs(g0 * m) < 1e18 AND abs(f0 * m) < 1e18 AND abs(n0 * m) < 1e18
    """


CURRENCIES = "CREATE TEMP TABLE recon_cur (code text PRIMARY KEY, m numeric) ON COMMIT DROP"

# the report's ledger payments; the rest are read back in the Python path's order (by time
# and entry: rows of the same entry come in no set order there either)
LEDGER_TABLE = """
CREATE TEMP TABLE recon_led (ord bigint, ref text, entry text, at timestamptz, gross bigint,
                             cur text, fee bigint) ON COMMIT DROP
"""
LEDGER = """
INSERT INTO recon_led
SELECT row_number() OVER () AS ord, q.ref, q.entry, q.at,
       q.gross::bigint AS gross, q.cur,
       (CASE WHEN q.fee_cur = q.cur THEN q.fee ELSE 0 END)::bigint AS fee
FROM ({query}) AS q(ref, entry, at, gross, cur, fee, fee_cur)
"""

# The pairs the rounds would match with nothing else to say (see ``records.Settled``), in
# one pass grouped by the PSP's id: each charge line's first id (side 1) and the ledger's
# payments (side 3). A key with one line and one payment of the same amount, currency and
# fee is a pair, unless a charge line names it as another id (its charge or source), or its
# line's balance transaction id is repeated.
PAIRS = f"""
CREATE TEMP TABLE recon_pair ON COMMIT DROP AS
WITH s AS (
  SELECT coalesce(pi, ch, src) AS key, 1 AS side, ord, cur, gross, fee, net, payout, txn
  FROM recon_psp WHERE lower(cat) IN ({CHARGE_WORDS})
  UNION ALL
  SELECT ref, 3, ord, cur, gross, fee, NULL, NULL, NULL FROM recon_led
), g AS (
  SELECT key, count(*) FILTER (WHERE side = 1) AS np, count(*) FILTER (WHERE side = 3) AS nl,
         min(ord) FILTER (WHERE side = 1) AS psp_ord, min(ord) FILTER (WHERE side = 3) AS led_ord,
         min(cur) AS cur, max(cur) AS cur2, min(gross) AS gross, max(gross) AS gross2,
         min(fee) AS fee, max(fee) AS fee2, min(net) AS net, min(payout) AS payout,
         min(txn) AS txn
  FROM s WHERE key IS NOT NULL GROUP BY key
)
SELECT psp_ord, led_ord, cur, gross, net, payout FROM g
WHERE np = 1 AND nl = 1 AND cur = cur2 AND gross = gross2 AND fee = fee2
  AND key NOT IN (
    SELECT ch FROM recon_psp
    WHERE lower(cat) IN ({CHARGE_WORDS}) AND ch IS NOT NULL AND ch <> coalesce(pi, ch)
    UNION ALL
    SELECT src FROM recon_psp
    WHERE lower(cat) IN ({CHARGE_WORDS}) AND src IS NOT NULL AND src <> coalesce(pi, ch, src)
  )
  AND txn NOT IN (SELECT txn FROM recon_psp GROUP BY txn HAVING count(*) > 1)
"""
SETTLED_BY_CURRENCY = "SELECT cur, count(*), sum(gross) FROM recon_pair GROUP BY cur"
SETTLED_NETS = "SELECT payout, sum(net) FROM recon_pair WHERE payout IS NOT NULL GROUP BY payout"
LEFT_PSP = """
SELECT txn, payout, cat, pi, ch, src, cur, gross, fee, net, created, eff, descr
FROM recon_psp p WHERE NOT EXISTS (SELECT 1 FROM recon_pair x WHERE x.psp_ord = p.ord)
ORDER BY ord
"""
LEFT_LEDGER = """
SELECT ref, entry, at, gross, cur, fee
FROM recon_led l WHERE NOT EXISTS (SELECT 1 FROM recon_pair x WHERE x.led_ord = l.ord)
ORDER BY at, entry, ord
"""
# the report's payouts as ``normalise.ReportFolder`` folds them: every row's net, the first
# row's currency and effective day (or creation day)
PAYOUTS = """
WITH p AS (
  SELECT payout, sum(net) AS net, min(ord) AS first FROM recon_psp
  WHERE payout IS NOT NULL GROUP BY payout
)
SELECT p.payout, p.net, r.cur, coalesce(r.eff, r.created)
FROM p JOIN recon_psp r ON r.ord = p.first
"""
PER_CURRENCY = "SELECT cur, count(*), min(created), max(created) FROM recon_psp GROUP BY cur"

# the checksum's lines (``digest.psp_text``, ``digest.ledger_text``) in the same order, for
# COPY TO (which ends each with a newline)
PSP_TEXT = f"""
  SELECT format('P|%s|%s|%s|%s|%s|%s|%s|%s', txn, k, CASE WHEN k IN ('{REFUND}', '{DISPUTE}')
         THEN {_refs("src", "pi", "ch")} ELSE {_refs("pi", "ch", "src")} END,
         gross, fee, net, cur, coalesce(payout, 'None'))
  FROM (SELECT *, {CATEGORY} AS k FROM recon_psp) p
  ORDER BY txn COLLATE "C", ord
"""
LEDGER_TEXT = """
  SELECT format('L|payment|%s|%s|%s|%s|%s', ref, gross, fee, cur, entry)
  FROM recon_led ORDER BY ref COLLATE "C", entry COLLATE "C", ord
"""
