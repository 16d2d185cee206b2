"""bank balances: the statement's creation time, to keep the later of two issues

A statement issued again (the same id, closing day and electronic sequence number) was
taken with its later *import*'s closing balance: files uploaded out of order (the evening's
issue, then the morning's) made the older balance count (a review found it). Each balance row
now keeps its statement's ``CreDtTm`` as the bank wrote it; an import of an issue created
before the one imported already keeps no balance rows, and says so. Rows imported before
have none: for them, the import order decides, as before.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 15:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_balances") as batch:
        batch.add_column(sa.Column("statement_created", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bank_balances") as batch:
        batch.drop_column("statement_created")
