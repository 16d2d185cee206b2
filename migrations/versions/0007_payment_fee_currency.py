"""payment fee currency and exchange rate

The PSP's fee is in its settlement currency (Stripe's balance transaction), which may not
be the payment's: store that currency and the rate the PSP applied (exact decimal text).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 05:35:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))
        batch_op.add_column(sa.Column('fee_exchange_rate', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
    # fees already known were taken in the payment's own currency (regie booked them so)
    op.execute("UPDATE payments SET fee_currency = currency WHERE fee IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('fee_exchange_rate')
        batch_op.drop_column('fee_currency')
