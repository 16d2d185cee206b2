"""bank_balances: a closing balance keeps what its statement's entries add up to, when not it

A statement whose opening balance + booked entries is not its closing balance was reported
as a problem of its import, and its closing balance then used by the bank tie-out as if it
added up: a run said "agrees" on a figure resting on a statement that does not add up. The
import now keeps, on such a statement's closing balance (CLBD), what its opening balance
and booked entries make (``computed``; NULL when they make the closing balance, or cannot
be added up), and the bank tie-out comparing it says so. Statements imported before keep
NULL: their import's problems say it, as before.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-05 16:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_balances") as batch:
        batch.add_column(sa.Column("computed", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bank_balances") as batch:
        batch.drop_column("computed")
