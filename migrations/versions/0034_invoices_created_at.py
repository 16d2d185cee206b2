"""invoices: an index on the creation time, for the period filters

The API's list (``created_gte``/``created_lt``) and the finance search and its count
(run on every page) filter invoices by creation period; no index held ``created_at``, so
each read every invoice: on a million (a large town's year) the search's count scanned the
whole table (90 ms, 17 ms by this index) and a service's list of one day read all its
invoices (314 ms, 1 ms).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05 07:50:00.000000
"""

from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_invoices_created_at", "invoices", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_invoices_created_at", table_name="invoices")
