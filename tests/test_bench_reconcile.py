"""The reconciliation benchmark's tools, small (``bench/reconcile.py``,
``bench/reconcile_phases.py``; PostgreSQL only): a generated year of 3,000 payments kept in a
directory (``--keep``, ``--rounds 0``), and one run of it timed phase by phase in its own
process. The run must find the planted discrepancies (exit 1: they are open) and the timeline
must show every phase of the bulk path, started and ended, in their order.

The year lives in a scratch database named after the test database (``<name>_recon``),
dropped afterwards."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import reconcile
from tests.test_drill import PG_URL, _drop

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]


def test_a_kept_year_is_reconciled_once_and_timed_phase_by_phase(tmp_path: Path) -> None:
    url = f"{PG_URL}_recon"
    data = tmp_path / "year"
    try:
        got = reconcile.main(["--payments", "3000", "--rounds", "0", "--keep", str(data),
                              "--database-url", url])  # fmt: skip
        assert got == {}
        assert {p.name for p in data.iterdir()} == {"payouts.csv", "releve.xml", "ledger.csv"}
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
        done = subprocess.run(
            [sys.executable, "-m", "bench.reconcile_phases", str(data), "--database-url", url],
            capture_output=True, text=True, env=env, timeout=240,
        )  # fmt: skip
    finally:
        asyncio.run(_drop(url))
    assert done.returncode == 1, done.stderr[-3000:]  # discrepancies are open
    run = json.loads((data / "run.json").read_text())
    planted = sum(1 for k in reconcile.World(3000).kind if k != "ok")
    assert len(run["discrepancies"]) == planted == 30
    phases = [line.split(None, 3)[3] for line in done.stderr.splitlines()
              if line[:6].strip().replace(".", "").isdigit()]  # fmt: skip
    wanted = ["> StatementImporter.parse", "< StatementImporter.parse", "> BulkReport.open",
              "> typed", "< typed", "< BulkReport.open",
              "> StatementImporter.store_all", "< StatementImporter.store_all", "> BulkReport._match", "< BulkReport._match", "> reconcile", "< reconcile",
              "> ReconciliationService._store", "< ReconciliationService._store",
              "> ReconciliationService.get_run", "> finish", "end"]  # fmt: skip
    assert [p for p in phases if p in wanted] == wanted, phases
    assert "> LedgerPrefetch._copy" in phases and "< LedgerPrefetch._copy" in phases
    assert "> _sha256" in phases and "< _sha256" in phases  # the report hashed on a thread


async def test_the_loaded_year_is_sealed_whole_and_verifies(app: Any) -> None:
    """The loader writes the ledger with COPY and the triggers off
    (``session_replication_role``), so the one that queues each entry for its seal
    (``ledger_unsealed``) did not run: the sealer sealed nothing and ``regie ledger verify``
    failed on a benchmark's database (every entry unsealed and awaiting nothing). It
    queues them itself: every entry is sealed and the chain verifies."""
    world = reconcile.World(1000)
    await reconcile.load(app.state.db.url, world)
    entries = sum(1 for k in world.kind if k != "missing_in_ledger") + reconcile.PAYOUTS
    ledger = app.state.ledger
    sealed = 0
    while n := await ledger.seal():
        sealed += n
    result = await ledger.verify()
    assert (result.ok, result.sealed, result.unsealed) == (True, entries, 0), result
    assert sealed == entries
