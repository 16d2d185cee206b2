"""Run Alembic migrations programmatically (``regie db upgrade``), and tell whether a
database is at the revision this code needs (``/readyz``)."""

from __future__ import annotations

import re
from importlib.resources import files
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

# a migration's file: its revision, then what it does (``0007_refunds.py`` is revision 0007)
_MIGRATION_FILE = re.compile(r"^([0-9]{4})_[a-z0-9_]+\.py$")


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # (Alembic is loaded by the commands that use it)

    cfg = Config()
    cfg.set_main_option("script_location", str(files("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` (synchronous; call it outside an event loop)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    engine = create_async_engine(url, hide_parameters=True)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_on, url, revision)
    finally:
        await engine.dispose()


def _upgrade_on(connection: object, url: str, revision: str) -> None:
    from alembic import command

    cfg = alembic_config(url)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def head_revisions() -> frozenset[str]:
    """The revision(s) this code's migrations end at (one: the history is linear)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def code_revisions() -> tuple[str, frozenset[str]]:
    """(head, every revision) of this code's migrations from their files' names, without
    loading Alembic and every migration (half a second a command): the history is linear
    and each file is named after its revision, which ``tests/regie/test_operations.py``
    holds them to against Alembic's own reading."""
    names = [entry.name for entry in files("migrations").joinpath("versions").iterdir()]
    found = {m.group(1) for name in names if (m := _MIGRATION_FILE.match(name))}
    return max(found), frozenset(found)


def migrations_pending(at: frozenset[str], head: str, known: frozenset[str]) -> bool:
    """Whether a database at revision(s) ``at`` needs ``regie db upgrade`` before this code
    works on it: never migrated, or at one of this code's revisions before its head. A
    revision this code does not know is a newer regie's (an upgrade under way, the older
    processes draining): that is fine, for the commands and for ``/readyz`` alike."""
    if not at:
        return True
    version = min(at)
    return version != head and version in known


async def database_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The revision(s) the database says it is at; empty when it was never migrated."""
    async with engine.connect() as conn:
        try:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no alembic_version table: never migrated
            return frozenset()
        return frozenset(str(r[0]) for r in rows)
