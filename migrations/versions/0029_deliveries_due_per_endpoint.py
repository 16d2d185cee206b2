"""notifications: each endpoint's pending deliveries by due time, for fair claims

A claim took the due deliveries oldest first with no cap per endpoint: a dead receiver's
backlog filled every claim and the other client services' notifications waited behind it.
A claim now takes at most a few of each endpoint, every endpoint's oldest first
(``webhooks.outbound.claims``); this partial index lets it read an endpoint's first pending
rows by due time and stop there, whatever the endpoint's backlog (only pending rows are in
it: the delivered history is most of the table).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_endpoint_due",
        "webhook_deliveries",
        ["endpoint_id", "next_attempt_at", "seq"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_endpoint_due", table_name="webhook_deliveries")
