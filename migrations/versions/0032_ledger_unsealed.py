"""ledger: the entries awaiting their seal, kept by a trigger (``ledger_unsealed``)

The sealer searched the entries from the lowest sequence number among its last 10,000
seals on: an entry whose transaction committed after 10,000 entries numbered after it
were sealed (a long transaction, a batch of invoices committing late) was never sealed.
Each entry's number is now put in ``ledger_unsealed`` by a trigger, in the transaction that
inserts it (whatever inserts it: ``post``, the batches' COPY, a script), and the sealer
takes the entries it seals out of it in the transaction that seals them: it reads this
table, which holds only the entries awaiting their seal, and never the whole ledger.
The entries not sealed yet are put in it here, after the trigger is created (on
PostgreSQL, creating it waits for the transactions inserting entries, and keeps new ones
waiting until this migration commits: none is missed).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 06:47:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE FUNCTION ledger_queue_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_unsealed (seq) SELECT seq FROM new_entries;
    RETURN NULL;
END $$
"""
PG_TRIGGER = (
    "CREATE TRIGGER ledger_entries_unsealed AFTER INSERT ON ledger_entries "
    "REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT "
    "EXECUTE FUNCTION ledger_queue_unsealed()"
)
SQLITE_TRIGGER = (
    "CREATE TRIGGER ledger_entries_unsealed AFTER INSERT ON ledger_entries "
    "BEGIN INSERT INTO ledger_unsealed (seq) VALUES (NEW.seq); END"
)
BACKFILL = (
    "INSERT INTO ledger_unsealed (seq) SELECT e.seq FROM ledger_entries e "
    "WHERE NOT EXISTS (SELECT 1 FROM ledger_seals s WHERE s.entry_id = e.id)"
)


def upgrade() -> None:
    op.create_table(
        "ledger_unsealed",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_entries_unsealed ON ledger_entries"
               if op.get_bind().dialect.name == "postgresql"
               else "DROP TRIGGER IF EXISTS ledger_entries_unsealed")  # fmt: skip
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_queue_unsealed()")
    op.drop_table("ledger_unsealed")
