"""bank_entries: a status is kept whole, up to ISO 20022's 35 characters

An entry's status is ``Sts/Cd`` (four letters: BOOK, PDNG, INFO…) or a bank's own
``Sts/Prtry`` (Max35Text). The column held 8 and the import cut what was longer, silently,
against the rule that what a statement says is stored whole or refused at its line: the
reader now refuses a status over 35 characters, and the column holds 35 (on PostgreSQL a
longer ``varchar`` is a change of the catalogue alone, no table rewrite).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-05 10:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.alter_column(
            "status", existing_type=sa.String(length=8), type_=sa.String(length=35),
            existing_nullable=False,
        )  # fmt: skip


def downgrade() -> None:
    # a status longer than 8 characters stored since is cut, as the import did before
    op.execute("UPDATE bank_entries SET status = substr(status, 1, 8) WHERE length(status) > 8")
    with op.batch_alter_table("bank_entries") as batch:
        batch.alter_column(
            "status", existing_type=sa.String(length=35), type_=sa.String(length=8),
            existing_nullable=False,
        )  # fmt: skip
