"""``regie maintenance reseal`` on the command line (README, "Rotating REGIE_SECRET_KEY"):
every webhook endpoint secret sealed again under the new key, and, in production, never
under the public default one."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from regie.kit.database import utcnow
from regie.kit.sealing import Sealer
from regie.kit.settings import DEV_SECRET_KEY
from tests.webhooks.test_secrets_at_rest import NEW_KEY, REGIE


def _database(tmp_path: Path, sealed_with: str) -> tuple[dict[str, str], Path, str]:
    """(environment, SQLite file, the sealed secret) of a migrated database holding one
    endpoint whose secret ``whsec_cli`` is sealed with ``sealed_with``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    path = tmp_path / "cli.db"
    env["REGIE_DATABASE_URL"] = f"sqlite+aiosqlite:///{path}"
    assert subprocess.run([REGIE, "db", "upgrade"], env=env, timeout=120).returncode == 0
    now = utcnow().isoformat()
    sealed = Sealer([sealed_with]).seal("whsec_cli", context="whe_1")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO services (id, slug, name, address, identifier, timezone, created_at)"
            " VALUES ('svc_1', 'urbanisme', 'U', '', '', 'Europe/Paris', ?)",
            (now,),
        )
        db.execute(
            "INSERT INTO webhook_endpoints (id, service_id, url, secret_sealed, status,"
            " created_at) VALUES ('whe_1', 'svc_1', 'http://127.0.0.1:9/x', ?, 'enabled', ?)",
            (sealed, now),
        )
    return env, path, sealed


def test_regie_maintenance_reseal_on_the_command_line(tmp_path: Path) -> None:
    env, path, _ = _database(tmp_path, DEV_SECRET_KEY)
    env |= {"REGIE_SECRET_KEY": NEW_KEY, "REGIE_PREVIOUS_SECRET_KEYS": DEV_SECRET_KEY}
    done = subprocess.run(
        [REGIE, "maintenance", "reseal"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "resealed 1 webhook endpoint secrets"
    with sqlite3.connect(path) as db:
        (sealed,) = db.execute("SELECT secret_sealed FROM webhook_endpoints").fetchone()
    assert Sealer([NEW_KEY]).open(sealed, context="whe_1") == "whsec_cli"


def test_regie_maintenance_reseal_in_production_refuses_the_default_secret_key(
    tmp_path: Path,
) -> None:
    """An operator rotating the key who moved the old one to REGIE_PREVIOUS_SECRET_KEYS but
    whose shell lacks the new REGIE_SECRET_KEY: reseal sealed every endpoint secret under the
    public default key (anyone holding a dump could open them, and the servers, on the real
    key, could no longer sign a notification). In production it refuses, naming the setting,
    and seals nothing."""
    env, path, sealed = _database(tmp_path, NEW_KEY)
    env |= {"REGIE_ENV": "production", "REGIE_PREVIOUS_SECRET_KEYS": NEW_KEY}
    done = subprocess.run(
        [REGIE, "maintenance", "reseal"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "REGIE_SECRET_KEY" in line, line
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT secret_sealed FROM webhook_endpoints").fetchone() == (sealed,)
