"""Operations: /readyz says whether the database is at the migrations this code needs."""

from __future__ import annotations

from pathlib import Path

import httpx

from regie.app import create_app
from regie.kit.settings import Settings
from regie.migrate import head_revisions, upgrade_async


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
