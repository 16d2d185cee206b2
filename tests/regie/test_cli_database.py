"""Every ``regie`` command without its database (issue 11): one line saying which database
it tried and how to point at the right one; no traceback; no database file created.
Only ``regie db upgrade`` and ``regie demo`` create one."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.regie.test_cli import REGIE

COMMANDS = [
    ["ledger", "verify", "--seal-first"],
    ["ledger", "seal"],
    ["ledger", "export", "--format", "fec", "--from", "2026-01-01", "--to", "2026-12-31"],
    ["services", "create", "cantine"],
    ["services", "set-statement-descriptor", "cantine", "CANTINE"],
    ["keys", "create", "--service", "cantine"],
    ["keys", "revoke", "key_01KAAAAAAAAAAAAAAAAAAAAAAA"],
    ["simulator", "payout"],
    ["simulator", "settlement-report", "--from", "2026-12-01", "--to", "2026-12-31"],
    ["simulator", "bank-statement", "--from", "2026-12-01", "--to", "2026-12-31"],
    ["reconcile", "--from", "2026-11-01", "--to", "2026-11-30"],
    ["worker"],
    ["serve", "--port", "18931"],
    # were a traceback (sqlite3.OperationalError), and SQLite made the file on the way
    ["services", "set-contact", "cantine", "--phone", "05 61 00 00 40"],
    ["invoices", "import", "/dev/null", "--service", "cantine"],
    ["maintenance", "prune"],
    ["maintenance", "reseal"],
    ["maintenance", "psp-postings"],
]
NAMES = [" ".join(c[:2]) for c in COMMANDS]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # a command that did not check would serve or work forever: the timeout fails it
    return subprocess.run(
        [REGIE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _one_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and result.stdout == "", result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=NAMES)
def test_a_command_without_its_database_says_which_and_creates_none(
    args: list[str], tmp_path: Path
) -> None:
    result = _run(args, _env(), tmp_path)  # the default: ./regie.db, which is not there
    line = _one_line(result, 2 if args[0] == "reconcile" else 1)  # its 1: discrepancies
    assert "./regie.db" in line and "REGIE_DATABASE_URL" in line and "--database-url" in line
    assert "regie db upgrade" in line, line
    assert list(tmp_path.iterdir()) == [], "a database file was created"


@pytest.mark.parametrize("args", COMMANDS[:3], ids=NAMES[:3])
def test_a_named_file_that_is_not_there_is_named(args: list[str], tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "compta.db"
    result = _run(args, _env(REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{db}"), tmp_path)
    assert str(db) in _one_line(result)
    assert not db.exists() and not db.parent.exists()


def test_the_option_names_the_database_before_the_command(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    result = _run(
        ["--database-url", f"sqlite+aiosqlite:///{db}", "ledger", "verify"], _env(), tmp_path
    )
    assert str(db) in _one_line(result)
    assert not db.exists()
    # and it works on a real one
    upgraded = _run(
        ["--database-url", f"sqlite+aiosqlite:///{db}", "db", "upgrade"], _env(), tmp_path
    )
    assert upgraded.returncode == 0, upgraded.stderr
    ok = _run(["--database-url", f"sqlite+aiosqlite:///{db}", "ledger", "verify"], _env(), tmp_path)
    assert ok.returncode == 0 and "ledger OK" in ok.stdout, ok.stderr


def test_a_file_that_is_not_a_regie_database_says_run_the_migrations(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    before = db.read_bytes()
    result = _run(
        ["ledger", "verify"], _env(REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{db}"), tmp_path
    )
    line = _one_line(result)
    assert str(db) in line and "regie db upgrade" in line and "migrat" in line, line
    assert db.read_bytes() == before


def test_an_unreachable_server_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://regie:s3cret@127.0.0.1:1/regie"
    result = _run(["ledger", "verify"], _env(REGIE_DATABASE_URL=url), tmp_path)
    line = _one_line(result)
    assert "127.0.0.1:1/regie" in line and "s3cret" not in line and "REGIE_DATABASE_URL" in line


def test_db_upgrade_still_creates_the_database(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    result = _run(["db", "upgrade"], _env(REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{db}"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert db.exists()


def test_a_database_behind_the_migrations_says_upgrade(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from regie.migrate import alembic_config, upgrade

    db = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{db}"
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_revision(script.get_current_head())
    assert head is not None and isinstance(head.down_revision, str)
    upgrade(url, head.down_revision)
    line = _one_line(_run(["ledger", "seal"], _env(REGIE_DATABASE_URL=url), tmp_path))
    assert head.down_revision in line and head.revision in line and "regie db upgrade" in line
