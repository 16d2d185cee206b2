"""issuers shared by the services of one legal entity; contact details on documents

- ``receipts.issuer``: the legal entity that issued a receipt or credit note (its SIREN,
  or the service's slug without one), unique with the kind and number. Rows issued before
  carry their service's slug: their numbers were the service's own series.
- The SIREN's shared counters (``receipt:siren:…``, ``credit_note:siren:…``) start after
  the highest number any of its services has issued that year, so no number repeats.
- ``services``: the contact details and the régie's name printed on receipts and shown on
  the citizen's pages (email, phone, opening hours, régie name).
- ``invoices.payer_address``: the payer's postal address, printed on the receipt.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 14:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def _siren(identifier: str | None) -> str | None:
    digits = "".join((identifier or "").split())
    if digits.isascii() and digits.isdigit() and len(digits) in (9, 14):
        return digits[:9]
    return None


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('opening_hours', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('regie_name', sa.String(length=200), nullable=True))
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payer_address', sa.String(length=500), nullable=True))

    if postgres:
        op.execute("ALTER TABLE receipts DISABLE TRIGGER receipts_append_only")
    op.add_column('receipts', sa.Column('issuer', sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE receipts SET issuer = "
        "(SELECT services.slug FROM services WHERE services.id = receipts.service_id)"
    )
    op.execute("UPDATE receipts SET issuer = service_id WHERE issuer IS NULL")
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.alter_column('issuer', existing_type=sa.String(length=40), nullable=False)
        batch_op.create_unique_constraint(
            'uq_receipt_issuer_kind_number', ['issuer', 'kind', 'number']
        )
    if postgres:
        op.execute("ALTER TABLE receipts ENABLE TRIGGER receipts_append_only")

    # the shared counters start after what each SIREN's services already issued
    services = bind.execute(sa.text("SELECT id, identifier FROM services")).all()
    siren_of = {sid: _siren(ident) for sid, ident in services}
    rows = bind.execute(sa.text("SELECT scope, period, last_value FROM number_sequences")).all()
    shared: dict[tuple[str, str], int] = {}
    for scope, period, last in rows:
        kind, _, service_id = scope.partition(":")
        siren = siren_of.get(service_id)
        if kind in ("receipt", "credit_note") and siren:
            key = (f"{kind}:siren:{siren}", period)
            shared[key] = max(shared.get(key, 0), int(last))
    for (scope, period), last in sorted(shared.items()):
        bind.execute(
            sa.text(
                "INSERT INTO number_sequences (scope, period, last_value) "
                "VALUES (:scope, :period, :last)"
            ),
            {"scope": scope, "period": period, "last": last},
        )


def downgrade() -> None:
    op.execute("DELETE FROM number_sequences WHERE scope LIKE '%:siren:%'")
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_receipt_issuer_kind_number', type_='unique')
        batch_op.drop_column('issuer')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('payer_address')
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('regie_name')
        batch_op.drop_column('opening_hours')
        batch_op.drop_column('phone')
        batch_op.drop_column('email')
