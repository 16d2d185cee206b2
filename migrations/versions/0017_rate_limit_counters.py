"""rate limits: the counters every server process shares (PostgreSQL)

``rate_limit_counters``: one row per limited key (an API key, a client address, an
invoice) and window: its count and the window's end (epoch seconds). UNLOGGED on
PostgreSQL: no WAL for a row rewritten on many requests; a crash empties it, which only
resets some windows. SQLite gets the table too (the same schema everywhere) but counts
in memory (one process).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 15:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    unlogged = ["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else []
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        prefixes=unlogged,
    )
    op.create_index(
        op.f("ix_rate_limit_counters_expires_at"), "rate_limit_counters", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_counters_expires_at"), table_name="rate_limit_counters")
    op.drop_table("rate_limit_counters")
