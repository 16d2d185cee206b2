"""Run Alembic migrations programmatically (``regie db upgrade``)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine


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
