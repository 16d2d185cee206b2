"""ledger: TRUNCATE is refused like UPDATE and DELETE (PostgreSQL)

The append-only triggers of 0002 are row triggers, and TRUNCATE fires none: ``TRUNCATE
ledger_seals`` emptied the hash chain, and the worker then sealed every entry again, lines
rewritten meanwhile included, so that ``regie ledger verify`` passed. A statement trigger
before TRUNCATE on each ledger table now refuses it with the same message. (Whoever owns
the tables can still disable triggers: only a head kept outside, ``regie ledger verify
--head``, proves the chain was not rewritten.)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 05:10:00.000000
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

TABLES = ("ledger_entries", "ledger_lines", "ledger_seals")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
