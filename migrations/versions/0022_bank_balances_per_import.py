"""bank statements: balances kept per import, 18-digit electronic sequence numbers

``bank_balances`` was unique on (account, statement id, type): the closing balance of a
statement whose id came again (a bank reusing one id every day, a statement issued again
with more entries) was silently dropped, and the tie-out kept the older one. Each import
now keeps its rows (with the statement's electronic sequence number, to recognise a
statement issued again); the tie-out reads the latest by date, then by import.

``last_sequence`` was a 32-bit integer while ``ElctrncSeqNb`` has up to 18 digits: BIGINT.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 06:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_balances", schema=None) as batch_op:
        batch_op.drop_constraint("uq_bank_balance", type_="unique")
        batch_op.add_column(sa.Column("electronic_sequence", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_bank_balances_statement", ["account", "statement_id"], unique=False
        )
    with op.batch_alter_table("bank_statement_imports", schema=None) as batch_op:
        batch_op.alter_column(
            "last_sequence", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_statement_imports", schema=None) as batch_op:
        batch_op.alter_column(
            "last_sequence", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True
        )
    # the rows a statement issued again added cannot stay under the unique constraint
    op.execute(
        "DELETE FROM bank_balances WHERE id NOT IN (SELECT MIN(id) FROM bank_balances "
        "GROUP BY account, statement_id, type)"
    )
    with op.batch_alter_table("bank_balances", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_balances_statement")
        batch_op.drop_column("electronic_sequence")
        batch_op.create_unique_constraint("uq_bank_balance", ["account", "statement_id", "type"])
