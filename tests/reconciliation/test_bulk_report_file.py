"""Where the bulk path reads an uploaded report: from the bytes in memory (``bulk_typing.typed``
is given them, after the byte order mark), never from a copy in the run's directory, so no
copy of a citizen's payments lands on a disk. (DuckDB's reader, used before, needed a file:
one in memory where Linux had ``memfd_create``, else ``report.csv`` in the run's directory.)"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

import reconciliation.bulk_typing as bulk_typing
from reconciliation.bulk import BulkReport
from tests.reconciliation.test_bulk import Month


async def test_the_report_is_typed_from_memory_and_nothing_of_it_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the run's directory, here
    seen: list[tuple[bytes, dict[str, bytes]]] = []
    real = bulk_typing.typed

    def spy(data: Any, header: list[str]) -> Any:
        files = {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*")
                 if p.is_file()}  # fmt: skip
        seen.append((bytes(data), files))
        return real(data, header)

    monkeypatch.setattr("reconciliation.bulk.typed", spy)
    data = Month(30, 36).csv()
    engine: Any = None  # no ledger to read: the report alone is loaded
    report = await BulkReport.open(engine, b"\xef\xbb\xbf" + data, "r.csv")  # with a BOM
    assert report is not None
    try:
        assert report.lines == data.count(b"\n") - 1
        [(given, files)] = seen
        assert given == data  # the bytes after the byte order mark, header included
        second_line = data.splitlines()[1]
        assert not [name for name, body in files.items() if second_line in body]
        assert not [p for p in tmp_path.rglob("*") if p.is_file() and second_line in p.read_bytes()]
    finally:
        await report.close()
    assert not list(tmp_path.iterdir())
