"""finance workspace: sessions signed out before their end

The workspace's session lives in its signed cookie, so signing out cleared the cookie in
that browser only: a copy of the cookie stayed valid until its idle or absolute limit.
``finance_signed_out_sessions`` keeps each signed-out session's identity (the SHA-256 of
its random CSRF token, never the token) until the session's absolute end, and every page
refuses a session found there. Pruned daily with the other housekeeping.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 16:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from regie.kit.database import UTCDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finance_signed_out_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("signed_out_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    op.create_index(
        op.f("ix_finance_signed_out_sessions_expires_at"),
        "finance_signed_out_sessions",
        ["expires_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_finance_signed_out_sessions_expires_at"), table_name="finance_signed_out_sessions"
    )
    op.drop_table("finance_signed_out_sessions")
