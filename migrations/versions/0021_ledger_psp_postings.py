"""ledger_psp_postings: the lines on a PSP's clearing account that book a payment, with the
payment's id at the PSP and its fee, kept at posting; filled here for the entries before it

Reconciliation read the ledger's payments by joining entries, lines and payments (a
payment's PSP id and fee are payment columns): a year of a city is a million of each, and
the join cost more than anything else in a run. ``ledger.service.post`` now writes one row
per line on the PSP's account in the entry's own transaction, from the very payment it
books; this migration writes the rows of the entries posted before, with the join
reconciliation used (``tests/ledger/test_psp_postings.py`` checks it on odd bookings).
Append-only on PostgreSQL, like the rest of the ledger.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 19:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

from regie.kit.database import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# the rows of the payment entries posted so far, as reconciliation read them (its read took
# the lines on the run's PSP account: here those on every PSP's; ``source_key`` names the
# payment; the fee counts when taken in the line's currency)
BACKFILL = """
INSERT INTO ledger_psp_postings
    (entry_id, kind, account, reference, effective_at, amount, currency, fee)
SELECT e.id, e.kind, l.account, p.provider_payment_id, e.effective_at, l.debit - l.credit,
       l.currency,
       CASE WHEN COALESCE(p.fee_currency, p.currency) = l.currency THEN COALESCE(p.fee, 0)
            ELSE 0 END
FROM ledger_entries e
JOIN ledger_lines l ON l.entry_id = e.id AND l.account LIKE 'assets:psp:%'
JOIN payments p ON p.invoice_id = e.invoice_id
 AND e.source_key IN ('payment:' || p.id || ':succeeded', 'payment:' || p.id || ':overpayment')
WHERE e.kind IN ('payment_succeeded', 'overpayment')
  AND p.provider_payment_id IS NOT NULL
ORDER BY e.seq, l.id
"""


def upgrade() -> None:
    op.create_table(
        "ledger_psp_postings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=120), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("effective_at", UTCDateTime(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger_entries.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ledger_psp_postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_psp_postings_window", ["account", "effective_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_psp_postings_entry_id"), ["entry_id"], unique=False
        )
    op.execute(sa.text(BACKFILL.replace(":", "\\:")))  # its colons are not parameters
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER ledger_psp_postings_append_only BEFORE UPDATE OR DELETE ON "
            "ledger_psp_postings FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_psp_postings_append_only ON ledger_psp_postings")
    op.drop_table("ledger_psp_postings")
