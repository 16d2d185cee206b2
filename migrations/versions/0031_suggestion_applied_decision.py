"""reconciliation suggestions: the decision the run read on each

A run reads the decisions in force before it matches, and its views showed the decision in
force when shown: a suggestion confirmed while the run was computed (or after it) showed
"confirmed" beside numbers that had not followed the confirmation (the payout not matched to
the bank, the difference not listed). Each suggestion now keeps the id of the decision in
force on its key that its run read (an id, not an instant: a decision is timed when its
key's lock is taken and committed after, so its time does not tell whether the run saw it).
A decision in force that is another was taken after the run and applies from the next run.
Suggestions stored before keep NULL, read as "none": a run lists no suggestion whose
rejection it read, and matches the sides of one whose confirmation it read.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 07:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recon_suggestions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applied_decision_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recon_suggestions", schema=None) as batch_op:
        batch_op.drop_column("applied_decision_id")
