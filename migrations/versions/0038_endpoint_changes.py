"""notifications: every status change of an endpoint, stored

An endpoint disabled, enabled or deleted (``POST /v1/webhook-endpoints/{id}/disable``,
``/enable``, ``DELETE``) changed what happens to its notifications (a disabled one's wait,
a deleted one's pending ones fail) with nothing stored but a log line: no one could tell
who had disabled or deleted it, nor when. Each change now keeps who made it (the API
key's id), when, and the status it changed from and to, in the change's transaction.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-05 13:10:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import regie.kit.database

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("service_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("status_before", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status_after", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("at", regie.kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_endpoint_changes") as batch:
        batch.create_index(
            batch.f("ix_webhook_endpoint_changes_endpoint_id"), ["endpoint_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoint_changes") as batch:
        batch.drop_index(batch.f("ix_webhook_endpoint_changes_endpoint_id"))
    op.drop_table("webhook_endpoint_changes")
