"""invoice metadata: NUL characters stored before the edge guard are replaced

Before ``regie.kit.guards`` refused NUL characters, an invoice's metadata could hold one
(PostgreSQL's ``json`` keeps the ``\\u0000`` escape), and every later metadata filter of
that tenant then failed (``->>`` cannot turn it into text). Each NUL in a metadata key or
value is replaced with U+FFFD, the replacement character, so nothing else changes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 14:30:00.000000
"""
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

REPLACEMENT = "\ufffd"


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def clean_metadata(bind: sa.engine.Connection) -> int:
    """Replace NUL characters in every invoice's metadata; the number of invoices changed."""
    as_text = "metadata::text" if bind.dialect.name == "postgresql" else "metadata"
    cast = "CAST(:m AS json)" if bind.dialect.name == "postgresql" else ":m"
    rows = bind.execute(
        sa.text(f"SELECT id, {as_text} FROM invoices WHERE {as_text} LIKE '%u0000%'")
    ).all()
    changed = 0
    for invoice_id, text in rows:
        doc = json.loads(text)
        cleaned = _clean(doc)
        if cleaned != doc:
            bind.execute(
                sa.text(f"UPDATE invoices SET metadata = {cast} WHERE id = :id"),
                {"m": json.dumps(cleaned), "id": invoice_id},
            )
            changed += 1
    return changed


def upgrade() -> None:
    clean_metadata(op.get_bind())


def downgrade() -> None:
    pass  # the NUL characters are not put back
