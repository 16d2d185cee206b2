"""reconciliation decisions: one in force per key, held by the database

Two decisions sent at once on the same discrepancy or suggestion (PostgreSQL) each found
none in force, or the same one, and both were left in force: the run counted a discrepancy's
amount twice as resolved, and the next decision on it failed (a review found it). The
deciders of a key now wait for each other (an advisory lock), and this partial unique index
refuses a second decision in force whatever else goes wrong.

Decisions already left in force together are chained first, as they would have been one
after the other: in order of creation (then id), each is superseded by the next, and the
latest stays in force. None is deleted.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 16:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT key, id FROM recon_decisions WHERE superseded_by IS NULL "
            "ORDER BY key, created_at, id"
        )
    ).all()
    for (key, earlier), (same_key, later) in zip(rows, rows[1:]):
        if key == same_key:
            conn.execute(
                sa.text("UPDATE recon_decisions SET superseded_by = :later WHERE id = :earlier"),
                {"later": later, "earlier": earlier},
            )
    op.create_index(
        "ux_recon_decisions_in_force",
        "recon_decisions",
        ["key"],
        unique=True,
        postgresql_where=sa.text("superseded_by IS NULL"),
        sqlite_where=sa.text("superseded_by IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ux_recon_decisions_in_force", table_name="recon_decisions")
