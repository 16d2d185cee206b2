"""Operations: /readyz says whether the database is at the migrations this code needs."""

from __future__ import annotations

from pathlib import Path

import httpx

from regie.app import create_app
from regie.kit.settings import Settings
from regie.migrate import alembic_config, code_revisions, head_revisions, upgrade_async


async def _readyz(url: str) -> httpx.Response:
    app = create_app(Settings(database_url=url, psp="simulator", env="development"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get("/readyz")


def test_the_head_is_the_last_migration() -> None:
    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    last = max(p.name.split("_")[0] for p in versions.glob("[0-9]*_*.py"))
    assert head_revisions() == {last}


def test_the_commands_read_the_revisions_alembic_reads() -> None:
    """The command line's schema check reads the revisions from the files' names (it does
    not load Alembic): they must be Alembic's, a file named after its revision."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head, known = code_revisions()
    assert {head} == set(script.get_heads())
    assert known == {rev.revision for rev in script.walk_revisions()}
    for rev in script.walk_revisions():
        assert Path(rev.path).name.startswith(f"{rev.revision}_"), rev.path


async def test_readyz_is_503_until_the_migrations_are_current(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    never = await _readyz(url)  # an empty database: never migrated
    assert never.status_code == 503, never.text
    assert never.json()["error"]["code"] == "migrations_pending"
    assert "at revision none" in never.json()["error"]["message"]

    (head,) = head_revisions()
    previous = f"{int(head) - 1:04d}"
    await upgrade_async(url, previous)
    behind = await _readyz(url)
    assert behind.status_code == 503
    error = behind.json()["error"]
    assert error == {
        "type": "service_unavailable",
        "code": "migrations_pending",
        "message": f"The database is at revision {previous}; this regie needs {head}. "
        "Run `regie db upgrade`.",
    }

    await upgrade_async(url)
    ready = await _readyz(url)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_readyz_on_the_migrated_test_database(client) -> None:
    r = await client.get("/readyz")
    assert (r.status_code, r.json()) == (200, {"status": "ready"})


async def test_readyz_is_ready_on_a_newer_schema(tmp_path: Path) -> None:
    """During an upgrade the migrations run first and the older processes drain while the
    new ones start: the commands accept a database a newer regie migrated, and so must
    /readyz, or every older process leaves the proxy's rotation before a new one is up
    (and its message, "Run `regie db upgrade`", would be wrong: the database is ahead)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    url = f"sqlite+aiosqlite:///{tmp_path / 'ahead.db'}"
    await upgrade_async(url)
    (head,) = head_revisions()
    engine = create_async_engine(url)
    async with engine.begin() as conn:  # a later regie's migration, unknown to this code
        await conn.execute(
            text("UPDATE alembic_version SET version_num = :v"), {"v": f"{int(head) + 1:04d}"}
        )
    await engine.dispose()
    ahead = await _readyz(url)
    assert (ahead.status_code, ahead.json()) == (200, {"status": "ready"})


def test_a_bad_setting_names_itself_once_and_its_value_once() -> None:
    """Before: "REGIE_TRUSTED_PROXIES: Value error, REGIE_TRUSTED_PROXIES: 'nowhere' does not
    appear to be an IPv4 or IPv6 network, not 'nowhere'"."""
    import pytest
    from pydantic import ValidationError

    from regie.kit.settings import Settings, settings_errors

    with pytest.raises(ValidationError) as err:
        Settings(trusted_proxies="127.0.0.1, nowhere", bank_iban="FR761", worker_batch_size=0)
    lines = settings_errors(err.value)
    assert sorted(lines) == [
        "REGIE_BANK_IBAN: not a valid IBAN: Invalid IBAN length, not 'FR761'",
        "REGIE_TRUSTED_PROXIES: 'nowhere' does not appear to be an IPv4 or IPv6 network, "
        "not '127.0.0.1, nowhere'",
        "REGIE_WORKER_BATCH_SIZE: Input should be greater than or equal to 1",
    ]
