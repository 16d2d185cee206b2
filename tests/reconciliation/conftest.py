"""Fixtures of the reconciliation tests."""

from __future__ import annotations

from typing import Any

import pytest

from reconciliation.bulk import BulkReport
from tests.test_year_boundaries import clock  # noqa: F401  (regie's clock stood still)


@pytest.fixture
def bulk_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One True per run matched in bulk."""
    calls: list[bool] = []
    match = BulkReport.match

    async def spy(self: BulkReport, *args: Any) -> Any:
        got = await match(self, *args)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(BulkReport, "match", spy)
    return calls
