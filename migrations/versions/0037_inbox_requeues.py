"""inbox: every re-queue of a dead letter, stored

``regie maintenance requeue`` put a dead letter back to pending with its attempts back to
zero and nothing stored but a log line: once applied, the row read ``done`` after one
attempt, and nothing said it had been dead-lettered and taken back by an operator. Each
re-queue now keeps when it was made and what the event had been through (its attempts
and last error then), in the re-queue's transaction.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-05 13:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import regie.kit.database

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_inbox_requeues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbox_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("attempts_before", sa.Integer(), nullable=False),
        sa.Column("last_error_before", sa.Text(), nullable=True),
        sa.Column("at", regie.kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["inbox_id"], ["webhook_inbox.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_inbox_requeues") as batch:
        batch.create_index(
            batch.f("ix_webhook_inbox_requeues_inbox_id"), ["inbox_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_inbox_requeues") as batch:
        batch.drop_index(batch.f("ix_webhook_inbox_requeues_inbox_id"))
    op.drop_table("webhook_inbox_requeues")
