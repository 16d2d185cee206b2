"""webhook endpoints: secrets sealed at rest, secret rotation, delete; pruned payloads

Endpoint secrets were stored in clear (``secret``). They are now sealed with AES-GCM under a
key derived from ``REGIE_SECRET_KEY`` (``regie.kit.sealing``), bound to the endpoint's id:
``secret_sealed``. A rotation keeps the former secret (``previous_secret_sealed``) until
``previous_secret_expires_at``. Delivered payloads emptied after the retention carry
``payload_pruned_at``.

This migration reads ``REGIE_SECRET_KEY`` (and ``REGIE_PREVIOUS_SECRET_KEYS``) from the
environment, like ``regie serve``: run it with the key the application will use.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 14:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import regie.kit.database
from regie.kit.sealing import Sealer
from regie.kit.settings import Settings


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

endpoints = sa.table(
    'webhook_endpoints',
    sa.column('id', sa.String),
    sa.column('secret', sa.String),
    sa.column('secret_sealed', sa.String),
)


def _sealer() -> Sealer:
    return Sealer(Settings().sealing_keys)


def upgrade() -> None:
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_sealed', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_sealed', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_expires_at', regie.kit.database.UTCDateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(endpoints.c.id, endpoints.c.secret)).all()
    if rows:
        sealer = _sealer()
        for endpoint_id, secret in rows:
            conn.execute(
                endpoints.update()
                .where(endpoints.c.id == endpoint_id)
                .values(secret_sealed=sealer.seal(secret, context=endpoint_id))
            )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.alter_column('secret_sealed', existing_type=sa.String(length=255), nullable=False)
        batch_op.drop_column('secret')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload_pruned_at', regie.kit.database.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('payload_pruned_at')
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret', sa.String(length=100), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(endpoints.c.id, endpoints.c.secret_sealed)).all()
    if rows:
        sealer = _sealer()
        for endpoint_id, sealed in rows:
            clear = sealer.open(sealed, context=endpoint_id) if sealed else ''
            conn.execute(
                endpoints.update().where(endpoints.c.id == endpoint_id).values(secret=clear)
            )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=100), nullable=False)
        batch_op.drop_column('previous_secret_expires_at')
        batch_op.drop_column('previous_secret_sealed')
        batch_op.drop_column('secret_sealed')
