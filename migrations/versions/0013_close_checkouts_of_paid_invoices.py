"""checkouts to close once their invoice is paid

When an invoice is paid, its other payments still pending are marked in the same
transaction (``close_checkout_at``); the worker closes their checkouts at the PSP and
asks again later when the PSP does not answer (``close_attempts``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import regie.kit.database


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('close_checkout_at', regie.kit.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('close_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_payments_close_checkout_at', ['close_checkout_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_close_checkout_at')
        batch_op.drop_column('close_attempts')
        batch_op.drop_column('close_checkout_at')
