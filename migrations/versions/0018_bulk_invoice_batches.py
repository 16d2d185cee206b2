"""invoice batches: invoices created together (POST /v1/invoice-batches, regie invoices import)

A batch row per batch, and each invoice names its batch (``invoices.batch_id``, NULL for
an invoice created alone), indexed to page through a batch's invoices.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 15:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from regie.kit.database import UTCDateTime

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'invoice_batches',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('service_id', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('first_number', sa.String(length=64), nullable=False),
        sa.Column('last_number', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['service_id'], ['services.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_invoice_batches_service_id_id', 'invoice_batches', ['service_id', 'id'], unique=False
    )
    with op.batch_alter_table('invoices') as batch:
        batch.add_column(sa.Column('batch_id', sa.String(length=40), nullable=True))
    op.create_index('ix_invoices_batch_id_id', 'invoices', ['batch_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_invoices_batch_id_id', table_name='invoices')
    with op.batch_alter_table('invoices') as batch:
        batch.drop_column('batch_id')
    op.drop_index('ix_invoice_batches_service_id_id', table_name='invoice_batches')
    op.drop_table('invoice_batches')
