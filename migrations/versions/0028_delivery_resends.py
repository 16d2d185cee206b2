"""notifications: every resend of a delivery, stored

A resend (``POST /v1/webhook-deliveries/{id}/resend``) put a delivery given up (or
delivered) back to pending with nothing stored but a log line and, for 24 h, the
idempotency key's row: the status change had no stored event to explain it. Each resend
now keeps who asked (the API key's id), when, and the status it changed.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 19:20:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import regie.kit.database

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_delivery_resends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("service_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("status_before", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("at", regie.kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_delivery_resends") as batch:
        batch.create_index(
            batch.f("ix_webhook_delivery_resends_delivery_id"), ["delivery_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_delivery_resends") as batch:
        batch.drop_index(batch.f("ix_webhook_delivery_resends_delivery_id"))
    op.drop_table("webhook_delivery_resends")
