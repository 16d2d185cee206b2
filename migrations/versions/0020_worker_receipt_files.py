"""receipts rendered after the commit: receipt_files holds each receipt's PDF and SHA-256

The paying transaction allocates the receipt's number and freezes its document; the PDF is
rendered afterwards (by the worker, or by the first download) into ``receipt_files``, one
row per receipt, append-only on PostgreSQL like ``receipts``; ``receipt_renders`` is the
queue of receipts still to render (claimed with a lease). Receipts issued before keep
their PDF in ``receipts.pdf``; new ones leave it (and ``receipts.sha256``) empty.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 15:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from regie.kit.database import UTCDateTime

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'receipt_files',
        sa.Column('receipt_id', sa.String(length=40), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('pdf', sa.LargeBinary(), nullable=False),
        sa.Column('rendered_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('receipt_id'),
    )
    op.create_table(
        'receipt_renders',
        sa.Column('receipt_id', sa.String(length=40), nullable=False),
        sa.Column('queued_at', UTCDateTime(), nullable=False),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('receipt_id'),
    )
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.alter_column('sha256', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('pdf', existing_type=sa.LargeBinary(), nullable=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER receipt_files_append_only BEFORE UPDATE OR DELETE ON receipt_files "
            "FOR EACH ROW EXECUTE FUNCTION receipts_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS receipt_files_append_only ON receipt_files")
    op.drop_table('receipt_renders')
    op.drop_table('receipt_files')
