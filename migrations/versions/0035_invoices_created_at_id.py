"""invoices: the index on the creation time holds the id too

A creation period read newest first (``ORDER BY id DESC LIMIT n``: the API's list, the
finance search and its export) made PostgreSQL walk the primary key from the newest
invoice, filtering on ``created_at`` (a February page read 838,000 invoices of a
million). The reads now bound ``id`` by the lowest and highest id of the period's
invoices, which this index gives without reading the table (an index-only scan); it
serves the period's count as the index it replaces did.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-05 08:20:00.000000
"""

from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_invoices_created_at_id", "invoices", ["created_at", "id"])
    op.drop_index("ix_invoices_created_at", table_name="invoices")


def downgrade() -> None:
    op.create_index("ix_invoices_created_at", "invoices", ["created_at"])
    op.drop_index("ix_invoices_created_at_id", table_name="invoices")
