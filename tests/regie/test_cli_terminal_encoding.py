"""What ``regie`` prints for a person on a terminal whose encoding lacks a character (a
Latin-1 or an ASCII stdout: ``PYTHONIOENCODING``, or a locale such as fr_FR.ISO-8859-1):
the character is written plainly (``€12.00`` as ``EUR 12.00``, ``→`` as ``->``, a letter without its
accent in ASCII, ``?`` else), never a UnicodeEncodeError. ``regie reconcile``'s summary
crashed there after the run was stored, with exit 1 whatever the run said, and so did
``regie bank-statement show`` on a name or its table's ``·`` and ``→``. The JSON the
commands print is UTF-8 bytes whatever the terminal's encoding, as the CSVs are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.test_reconcile_api import IBAN, camt

REGIE = str(Path(sys.executable).parent / "regie")
NAME = "Subvention de l'État – 東京"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def regie(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([REGIE, *args], env=env, capture_output=True, timeout=120)


def env_for(encoding: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGIE_", "PYTHONUTF8"))}
    return {**env, **settings, "REGIE_LOG_LEVEL": "WARNING", "PYTHONIOENCODING": encoding}


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
async def test_the_reconcile_summary_is_written_in_any_terminal_encoding(
    client: Any, keys: Any, settings: Settings, encoding: str
) -> None:
    fin = Keys.h(keys.finance)
    statement = camt([("BNK-9", "12.00", NAME)])
    r = await client.post(
        "/v1/bank-statements",
        files={"file": ("releve.xml", statement, "application/xml")},
        headers=fin,
    )
    assert r.status_code == 201, r.text
    today = utcnow().date().isoformat()
    env = env_for(
        encoding, REGIE_DATABASE_URL=settings.database_url, REGIE_BANK_IBAN=settings.bank_iban or ""
    )
    done = regie(env, "reconcile", "--from", today, "--to", today)
    assert done.returncode == 1, done.stderr.decode(errors="replace")  # the grant is open
    assert b"Traceback" not in done.stderr and b"UnicodeEncodeError" not in done.stderr
    out = done.stdout.decode(encoding)  # the terminal's encoding: every byte of it
    assert out.startswith("Reconciliation run_"), out
    assert "Unexpected bank credit        1  EUR 12.00" in out, out  # €12.00
    assert "differs by EUR 12.00" in out
    assert "open: 1;" in out
    runs = (await client.get("/v1/reconciliations", headers=fin)).json()["data"]
    assert [(x["id"], x["summary"]["discrepancies"]) for x in runs] == [
        (out.split()[1].rstrip(":"), 1)
    ]  # stored once: the run the summary names
    # ``ledger balances`` too (account ids, currency codes and decimals: ASCII), and its
    # JSON in UTF-8 bytes
    for args in ((), ("--format", "json")):
        done = regie(env, "ledger", "balances", *args)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert json.loads(done.stdout.decode("utf-8"))["at"] is None


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("latin-1", "Subvention de l'État - ??"), ("ascii", "Subvention de l'Etat - ??")],
)
def test_bank_statement_show_is_written_in_any_terminal_encoding(
    tmp_path: Path, encoding: str, name: str
) -> None:
    file = tmp_path / "releve.xml"
    file.write_bytes(camt([("BNK-9", "12.00", NAME)]))
    env = env_for(encoding, REGIE_BANK_IBAN=IBAN)
    done = regie(env, "bank-statement", "show", str(file))
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    out = done.stdout.decode(encoding)
    assert "BNK-9" in out and "+12.00" in out, out
    assert name in " ".join(out.split()), out  # (the table may wrap it)
    # the JSON: UTF-8 bytes, every character kept
    done = regie(env, "bank-statement", "show", str(file), "--format", "json")
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert NAME in done.stdout.decode("utf-8")
