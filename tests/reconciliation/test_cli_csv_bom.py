"""``regie reconcile --format csv`` writes the run's CSV as the API and the workspace give
it: UTF-8 with the byte order mark Excel needs, on stdout too, whatever the terminal's
encoding (as ``regie ledger export --format csv`` does)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.test_reconcile_api import IBAN, camt

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def test_the_runs_csv_on_stdout_is_utf8_with_its_mark_in_a_latin1_terminal(
    client: Any, keys: Any, settings: Settings
) -> None:
    """With a Latin-1 stdout (PYTHONIOENCODING, or a fr_FR.ISO-8859-1 locale) the command
    stopped with a UnicodeEncodeError on the mark, after the run was stored."""
    fin = Keys.h(keys.finance)
    statement = camt([("BNK-9", "12.00", "Subvention de l'État")])
    r = await client.post(
        "/v1/bank-statements",
        files={"file": ("releve.xml", statement, "application/xml")},
        headers=fin,
    )
    assert r.status_code == 201, r.text
    today = utcnow().date().isoformat()
    env = {
        **os.environ,
        "REGIE_DATABASE_URL": settings.database_url,
        "REGIE_BANK_IBAN": settings.bank_iban or "",
        "REGIE_LOG_LEVEL": "WARNING",
        "PYTHONIOENCODING": "latin-1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "regie.cli", "reconcile", "--from", today, "--to", today,
         "--format", "csv"],
        capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the grant is an open discrepancy
    assert done.stdout.startswith(BOM + b"id,category,"), done.stdout[:40]
    assert "Subvention de l'État".encode() in done.stdout
