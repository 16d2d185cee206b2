"""ledger seals record their canonical form

Form 1 hashed an entry's id, source key, kind, effective date, reversal and lines; form 2
adds its service, invoice and description (the labels the FEC and CSV exports print), so
altering them is caught by ``regie ledger verify``. Existing seals keep form 1 and still
verify; new seals use form 2. Adding a column with a default fires no UPDATE trigger.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 06:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'ledger_seals',
        sa.Column('form', sa.SmallInteger(), nullable=False, server_default='1'),
    )


def downgrade() -> None:
    with op.batch_alter_table('ledger_seals') as batch:
        batch.drop_column('form')
