"""reconciliation suggestions: both sides kept, item by item

A suggestion kept only the bank credits' total: whoever confirmed it could not see the
payout's amount and expected day beside the credit's, which is what differs (a credit that
names a payout with another amount, two payouts of one amount). Each suggestion now keeps
its payouts (id, amount, expected arrival day) and its bank credits (reference, amount,
booking day) as JSON lists. Suggestions stored before keep NULL: the API gives ``null`` and
the pages say the sides were not kept.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 09:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recon_suggestions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payout_items", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("bank_items", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recon_suggestions", schema=None) as batch_op:
        batch_op.drop_column("bank_items")
        batch_op.drop_column("payout_items")
