"""``regie reconcile`` refuses bad input with one line and exit 2 (1 means "discrepancies
are open"), before it stores anything: a period out of range, an output it cannot write, a
bad statement beside a good one. And its CSV says who decided as the API's does."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from reconciliation.models import BankStatementImport, ReconRun
from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.reconciliation.test_reconcile_api import IBAN, camt
from tests.reconciliation.test_run_refusals import _undated


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REGIE_DATABASE_URL": settings.database_url,
        "REGIE_BANK_IBAN": settings.bank_iban or "",
        "REGIE_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "regie.cli", "reconcile", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


async def _stored(app: Any) -> tuple[int, int]:
    async with app.state.db.session() as s:
        runs = (await s.execute(select(func.count()).select_from(ReconRun))).scalar_one()
        imports = (
            await s.execute(select(func.count()).select_from(BankStatementImport))
        ).scalar_one()
    return int(imports), int(runs)


def _refused(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert says in done.stderr, done.stderr


async def test_a_period_out_of_range_is_exit_2(app: Any, settings: Settings) -> None:
    _refused(_cli(settings, "--from", "0001-01-02", "--to", "0001-01-31"), "--from")
    _refused(_cli(settings, "--from", "2026-01-01", "--to", "2026-01-31", "--as-of",
                  "9999-12-31"), "--as-of")  # fmt: skip
    assert await _stored(app) == (0, 0)


async def test_an_as_of_before_the_period_is_exit_2(app: Any, settings: Settings) -> None:
    """A run judging December's payouts as on 1 November would call none of them late."""
    _refused(_cli(settings, "--from", "2026-11-01", "--to", "2026-11-30", "--as-of",
                  "2026-10-31"), "--as-of")  # fmt: skip
    assert await _stored(app) == (0, 0)


async def test_an_output_it_cannot_write_is_exit_2_before_the_run(
    app: Any, settings: Settings, tmp_path: Path
) -> None:
    today = utcnow().date().isoformat()
    statement = tmp_path / "releve.xml"
    statement.write_bytes(camt([("BNK-1", "2.00", "Y")]))
    done = _cli(settings, "--from", today, "--to", today, "--camt053", str(statement),
                "--output", "/nonexistent/dir/x.json")  # fmt: skip
    _refused(done, "/nonexistent/dir")
    _refused(_cli(settings, "--from", today, "--to", today, "--output", str(tmp_path)),
             "is a directory")  # fmt: skip
    assert await _stored(app) == (0, 0)


async def test_a_bad_statement_stores_not_the_good_one(
    app: Any, settings: Settings, tmp_path: Path
) -> None:
    today = utcnow().date().isoformat()
    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    good.write_bytes(camt([("BNK-1", "2.00", "Y")]))
    bad.write_bytes(_undated("BNK-2"))
    done = _cli(settings, "--from", today, "--to", today, "--camt053", str(good),
                "--camt053", str(bad))  # fmt: skip
    _refused(done, "bad.xml, line ")
    assert await _stored(app) == (0, 0)


async def test_the_csv_says_who_resolved_by_the_key_never_its_id(
    app: Any, client: Any, keys: Any, settings: Settings
) -> None:
    """``--format csv`` names who resolved a discrepancy as the API's CSV and the pages do:
    the key's service, role and printable prefix, never the raw key id."""
    from tests.conftest import Keys

    fin = Keys.h(keys.finance)
    today = utcnow().date().isoformat()
    r = await client.post(
        "/v1/bank-statements",
        files={"file": ("releve.xml", camt([("BNK-9", "12.00", "GRANT")]), "application/xml")},
        headers=fin,
    )
    assert r.status_code == 201, r.text
    run = (
        await client.post(
            "/v1/reconciliations", json={"period_from": today, "period_to": today}, headers=fin
        )
    ).json()
    (found,) = run["discrepancies"]
    base = f"/v1/reconciliations/{run['id']}/discrepancies/{found['id']}/resolve"
    assert (await client.post(base, json={"note": "Subvention"}, headers=fin)).status_code == 200
    done = _cli(settings, "--from", today, "--to", today, "--format", "csv")
    assert done.returncode == 0, done.stderr
    (row,) = csv.DictReader(io.StringIO(done.stdout))
    by = row["resolved_by"]
    assert "key_" not in by and "rk_test_fin" in by, by


async def test_a_repeated_line_is_exit_2_and_stores_not_the_statement(
    app: Any, settings: Settings, tmp_path: Path
) -> None:
    """A report repeating a balance transaction is refused with its file and line, and the
    statement given beside it is not stored (on PostgreSQL, by the bulk path)."""
    from tests.reconciliation.test_run_refusals import GOOD_LINES, HEADER

    report, statement = tmp_path / "dup.csv", tmp_path / "releve.xml"
    report.write_text(HEADER + "\n".join([*GOOD_LINES, GOOD_LINES[2]]) + "\n")
    statement.write_bytes(camt([("BNK-1", "33.19", "STRIPE po_1")], day=dt.date(2026, 10, 6)))
    done = _cli(settings, "--from", "2026-10-01", "--to", "2026-10-31", "--stripe-csv",
                str(report), "--camt053", str(statement), "--provider", "stripe")  # fmt: skip
    _refused(done, "error: dup.csv, line 5: balance transaction txn_2 is already on line 4")
    assert await _stored(app) == (0, 0)
