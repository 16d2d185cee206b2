"""Alembic environment: async engines (aiosqlite, asyncpg), every package's tables."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

# importing the model modules registers their tables on SQLModel.metadata
import ledger.models  # noqa: F401
import payments.models  # noqa: F401
import payments.providers.simulator.models  # noqa: F401
import receipts.models  # noqa: F401
import reconciliation.models  # noqa: F401
import regie.finance.models  # noqa: F401
import regie.kit.idempotency  # noqa: F401
import regie.kit.ratecounters  # noqa: F401
import regie.kit.sequences  # noqa: F401
import regie.kit.tenancy  # noqa: F401
import webhooks.inbound.models  # noqa: F401
import webhooks.outbound.models  # noqa: F401

target_metadata = SQLModel.metadata
config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, hide_parameters=True)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `regie db upgrade`")
run()
