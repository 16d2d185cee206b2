"""delayed payments and statement descriptor suffixes

A payment whose payer completed the checkout with a delayed method (a SEPA debit) records
since when its money is on its way (it does not expire with its invoice); a service may
give the words printed after the PSP account's prefix on a card statement.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import regie.kit.database


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('processing_since', regie.kit.database.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('statement_descriptor_suffix', sqlmodel.sql.sqltypes.AutoString(length=22), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('statement_descriptor_suffix')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('processing_since')
