"""Run Alembic migrations programmatically (``regie db upgrade``), and tell whether a
database is at the revision this code needs (``/readyz``)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` (synchronous; call it outside an event loop)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    engine = create_async_engine(url, hide_parameters=True)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_on, url, revision)
    finally:
        await engine.dispose()


def _upgrade_on(connection: object, url: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def head_revisions() -> frozenset[str]:
    """The revision(s) this code's migrations end at (one: the history is linear)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


async def database_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The revision(s) the database says it is at; empty when it was never migrated."""
    async with engine.connect() as conn:
        try:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no alembic_version table: never migrated
            return frozenset()
        return frozenset(str(r[0]) for r in rows)
