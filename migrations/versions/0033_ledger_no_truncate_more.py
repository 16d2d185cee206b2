"""ledger: TRUNCATE refused on the PSP postings and on the entries awaiting their seal too

0030 refused TRUNCATE on the entries, the lines and the seals. Two ledger tables were left:
``ledger_psp_postings`` (append-only since 0021 for UPDATE and DELETE; emptied, the
reconciliation reads no payment of the ledger and reports every PSP line as missing in it)
and ``ledger_unsealed`` (0032; the sealer's only source: emptied, the entries awaiting
their seal would never be sealed, which ``regie ledger verify`` reports but nothing
prevented). The sealer takes its rows out with DELETE, never TRUNCATE. PostgreSQL only, as
0030.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 07:40:00.000000
"""

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

TABLES = ("ledger_psp_postings", "ledger_unsealed")


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
