"""The ``regie`` command line, run as a real subprocess on a fresh SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from regie.app import create_app
from regie.kit.settings import Settings, UnsafeSettingsError

REGIE = str(Path(sys.executable).parent / "regie")


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGIE, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    return env


async def test_services_and_keys_from_the_command_line(cli_env: dict[str, str]) -> None:
    assert run(["db", "upgrade"], cli_env).returncode == 0
    created = run(["services", "create", "cantine", "--display-name", "Cantine scolaire"], cli_env)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("svc_")
    assert run(["services", "create", "cantine"], cli_env).returncode == 1  # no duplicates
    key = run(["keys", "create", "--service", "cantine", "--role", "service"], cli_env)
    assert key.returncode == 0, key.stderr
    raw = key.stdout.strip()
    assert key.stdout == raw + "\n"  # the key alone on stdout: KEY=$(regie keys create …) works
    assert raw.startswith("rk_test_ser_")
    assert run(["keys", "create", "--service", "nope"], cli_env).returncode == 1

    settings = Settings(database_url=cli_env["REGIE_DATABASE_URL"], base_url="http://testserver")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c:
            assert (
                await c.get("/v1/invoices", headers={"Authorization": f"Bearer {raw}"})
            ).status_code == 200
            revoked = run(["keys", "revoke", raw], cli_env)
            assert revoked.returncode == 0, revoked.stderr
            r = await c.get("/v1/invoices", headers={"Authorization": f"Bearer {raw}"})
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "invalid_api_key"


def test_production_refuses_unsafe_settings() -> None:
    with pytest.raises(UnsafeSettingsError) as err:
        create_app(Settings(env="production", psp="simulator"))
    message = str(err.value)
    assert "simulator" in message and "SECRET_KEY" in message and "SQLite" in message


def test_demo_refuses_production(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "REGIE_ENV": "production"}
    result = run(["demo", "--seed-only"], env)
    assert result.returncode != 0
    assert "production" in result.stderr


def test_demo_seeds_services_keys_and_invoices(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        [REGIE, "demo", "--seed-only"],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "rk_test_ser_demo_urbanisme" in result.stderr
    assert "/pay/" in result.stderr
    again = subprocess.run(
        [REGIE, "demo", "--seed-only"],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr  # seeding twice is harmless
