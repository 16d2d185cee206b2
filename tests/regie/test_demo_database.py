"""What `regie demo` says of its database: the kind it really uses (SQLite or PostgreSQL),
and its URL without the password."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from regie.demo import database_shown, ready_lines
from tests.conftest import _truncate
from tests.regie.test_cli import REGIE

PG = "postgresql+asyncpg://regie:s3cret-pw@db.example:5432/regie"


def test_the_ready_lines_name_the_database_in_use_without_its_password() -> None:
    text = "\n".join(ready_lines("http://127.0.0.1:8000", PG, []))
    assert "regie demo is ready (PostgreSQL + simulator PSP;" in text
    assert "postgresql+asyncpg://regie:***@db.example:5432/regie" in text
    assert "s3cret" not in text and "SQLite" not in text
    text = "\n".join(ready_lines("http://127.0.0.1:8000", "sqlite+aiosqlite:///./x.db", []))
    assert "regie demo is ready (SQLite + simulator PSP;" in text
    assert database_shown("nonsense")[1] == "(not a database URL)"
    seeded = "\n".join(ready_lines("http://127.0.0.1:8000", PG, [], serving=False))
    assert "is ready" not in seeded and "regie demo is seeded (PostgreSQL)" in seeded


@pytest.mark.postgres
def test_the_demo_on_postgresql_says_so(migrated_urls: dict[str, str], tmp_path: Path) -> None:
    url = make_url(migrated_urls["postgresql"]).set(password="s3cret-pw")
    plain = url.render_as_string(hide_password=False)
    asyncio.run(_truncate(plain))  # the demo seeds only a database with nothing else
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    try:
        done = subprocess.run(
            [REGIE, "demo", "--seed-only"],
            env={**env, "REGIE_DATABASE_URL": plain}, cwd=tmp_path,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        asyncio.run(_truncate(plain))  # its public keys stay out of the other tests
    assert done.returncode == 0, done.stderr[-2000:]
    assert "regie demo is seeded (PostgreSQL); nothing is served" in done.stderr  # --seed-only
    assert "s3cret-pw" not in done.stderr + done.stdout
    assert list(tmp_path.iterdir()) == []  # no SQLite file beside it
