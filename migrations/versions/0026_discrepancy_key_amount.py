"""reconciliation: a discrepancy's key holds its amount and currency

A decision holds by its item's key in every later run. The key named the category and the
item only (``missing_in_ledger:charge:pi_1``), so a resolution written for a 5.00 € line
also marked resolved the same item found off by 5,000.00 € in a later run (a review found
it). The key now ends with the amount and currency (``…:charge:pi_1@500 EUR``; a key longer
than its 300 characters is its category and the SHA-256 of the whole,
``reconciliation.book.discrepancy_key``).

The stored keys are rewritten so: each discrepancy's with its own amount; each resolution's
with the amount of the discrepancy it resolved (of its run, under its former key). A
resolution then holds where the amount is the one it was written for, and no longer where
another amount came up. Confirmations and rejections of suggestions keep their keys. The
chains of decisions are then drawn again per key: in order of creation (then id), each
superseded by the next, the latest in force, as they would have been had the keys differed
from the start. No decision is deleted. (Downgrading does not shorten the keys again.)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 16:40:00.000000
"""

import hashlib
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

MAX_KEY = 300


def _key(category: str, old: str, amount: int, currency: str) -> str:
    key = f"{old}@{amount} {currency}"  # ``old`` begins with the category and ":"
    if len(key) <= MAX_KEY:
        return key
    return f"{category}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def upgrade() -> None:
    conn = op.get_bind()
    op.drop_index("ux_recon_decisions_in_force", table_name="recon_decisions")
    # each resolution: the amount of the discrepancy it resolved, in its run, by its old key
    resolved = conn.execute(
        sa.text(
            "SELECT d.id, x.category, x.key, x.amount, x.currency FROM recon_decisions d "
            "JOIN recon_discrepancies x ON x.run_id = d.run_id AND x.key = d.key "
            "WHERE d.action = 'resolve'"
        )
    ).all()
    for decision_id, category, old, amount, currency in resolved:
        conn.execute(
            sa.text("UPDATE recon_decisions SET key = :key WHERE id = :id"),
            {"key": _key(category, old, int(amount), currency), "id": decision_id},
        )
    # every discrepancy: in one statement where the key fits, one by one where it does not
    suffix = "'@' || CAST(amount AS VARCHAR) || ' ' || currency"
    too_long = conn.execute(
        sa.text(
            "SELECT id, category, key, amount, currency FROM recon_discrepancies "
            f"WHERE length(key || {suffix}) > {MAX_KEY}"
        )
    ).all()
    conn.execute(
        sa.text(
            f"UPDATE recon_discrepancies SET key = key || {suffix} "
            f"WHERE length(key || {suffix}) <= {MAX_KEY}"
        )
    )
    for discrepancy_id, category, old, amount, currency in too_long:
        conn.execute(
            sa.text("UPDATE recon_discrepancies SET key = :key WHERE id = :id"),
            {"key": _key(category, old, int(amount), currency), "id": discrepancy_id},
        )
    # the chains, per key, in order of creation
    chains: dict[str, list[str]] = defaultdict(list)
    for key, decision_id in conn.execute(
        sa.text("SELECT key, id FROM recon_decisions ORDER BY key, created_at, id")
    ):
        chains[key].append(decision_id)
    for ids in chains.values():
        for earlier, later in zip(ids, [*ids[1:], None]):
            conn.execute(
                sa.text("UPDATE recon_decisions SET superseded_by = :later WHERE id = :earlier"),
                {"later": later, "earlier": earlier},
            )
    op.create_index(
        "ux_recon_decisions_in_force",
        "recon_decisions",
        ["key"],
        unique=True,
        postgresql_where=sa.text("superseded_by IS NULL"),
        sqlite_where=sa.text("superseded_by IS NULL"),
    )


def downgrade() -> None:
    pass  # the longer keys are kept: a decision stays with the discrepancy it was made on
