"""notifications: a lane per delivery, a batch's below the others; the claim's index by lane

A batch of 10,000 invoices queues 10,000 ``invoice.created`` for each of its service's
endpoints, and a claim took an endpoint's notifications due first, then as written: a
citizen's ``invoice.paid`` written after the batch waited behind the whole backlog. Each
delivery now has a lane (``lane``: 0 for a single event's notification, 1 for a batch's
``invoice.created``) and a claim takes an endpoint's lane 0 before its lane 1
(``webhooks.outbound.claims``). The partial index of an endpoint's pending rows by due time
now has the lane after the endpoint, so that a claim reads the first few rows of each lane
of an endpoint and stops there, as before.

Every row written before is in lane 0: the backlog already queued goes out as it would have.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-05 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None

INDEX = "ix_webhook_deliveries_endpoint_due"
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    # a constant default: a change of the catalogue only on PostgreSQL (no table rewrite),
    # ALTER TABLE … ADD COLUMN on SQLite
    op.add_column(
        "webhook_deliveries",
        sa.Column("lane", sa.SmallInteger(), nullable=False, server_default="0"),
    )
    op.drop_index(INDEX, table_name="webhook_deliveries")
    op.create_index(
        INDEX,
        "webhook_deliveries",
        ["endpoint_id", "lane", "next_attempt_at", "seq"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="webhook_deliveries")
    op.create_index(
        INDEX,
        "webhook_deliveries",
        ["endpoint_id", "next_attempt_at", "seq"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("lane")
