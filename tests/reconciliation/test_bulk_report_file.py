"""Where DuckDB reads an uploaded report (``reconciliation.bulk_load.report_file``): a file in
memory where Linux has ``memfd_create`` (nothing of the report in the run's directory, so no
copy of the payments on a disk), else ``report.csv`` in the run's private directory, removed
once typed. Both type the same report."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest

import reconciliation.bulk_load as bulk_load
from reconciliation.bulk import BulkReport
from tests.reconciliation.test_bulk import Month


@pytest.mark.parametrize("memfd", [True, False])
async def test_the_report_is_typed_from_memory_or_else_from_its_private_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, memfd: bool
) -> None:
    if not memfd:
        monkeypatch.delattr(os, "memfd_create", raising=False)
    elif not hasattr(os, "memfd_create"):
        pytest.skip("no memfd_create here")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the run's directory, here
    seen: list[tuple[str, list[str], bytes]] = []
    real = bulk_load.type_report

    def spy(con: duckdb.DuckDBPyConnection, path: Path, *args: Any) -> bool:
        inside = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
        seen.append((str(path), inside, path.read_bytes()))
        return real(con, path, *args)

    monkeypatch.setattr("reconciliation.bulk.type_report", spy)
    data = Month(30, 36).csv()
    engine: Any = None  # no ledger to read: the report alone is loaded
    report = await BulkReport.open(engine, b"\xef\xbb\xbf" + data, "r.csv")  # with a BOM
    assert report is not None
    try:
        assert report.lines == data.count(b"\n") - 1
        [(path, inside, read)] = seen
        assert read == data  # the bytes after the BOM
        [run_dir] = [p for p in inside if "/" not in p]
        if memfd:
            assert path.startswith("/proc/self/fd/")
            assert not [p for p in inside if p.endswith("report.csv")]
        else:
            assert path == str(tmp_path / run_dir / "report.csv")
            assert f"{run_dir}/report.csv" in inside
        assert not list(tmp_path.rglob("report.csv"))  # removed once typed
    finally:
        await report.close()
    assert not list(tmp_path.iterdir())


def test_a_memory_file_is_closed_when_the_typing_fails(tmp_path: Path) -> None:
    """The file in memory is closed however its reader leaves (here: by an exception)."""
    if not hasattr(os, "memfd_create"):
        pytest.skip("no memfd_create here")
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError), bulk_load.report_file(tmp_path, memoryview(b"a,b\n")) as p:
        assert p.read_bytes() == b"a,b\n"
        raise RuntimeError
    assert set(os.listdir("/proc/self/fd")) <= before
