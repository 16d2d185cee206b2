"""The runs' chart and its table name each run's period as the rest of the page does, in
the officer's language (``5–8 déc. 2026``), not as ``2026-12-05 – 2026-12-08``: ISO days
in the middle of French words read as a code, not a date."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from regie.finance.runs import charts


def run(start: dt.date, end: dt.date) -> Any:
    return SimpleNamespace(
        id="run_1",
        period_from=start,
        period_to=end,
        created_at=dt.datetime(2026, 12, 5, 12, 47, 27, tzinfo=dt.UTC),
        summary={"matched_amount": {"EUR": 227556}, "categories": []},
    )


@pytest.mark.parametrize(
    ("lang", "start", "end", "said"),
    [
        ("fr", dt.date(2026, 12, 5), dt.date(2026, 12, 8), "5–8 déc. 2026 (5 déc. 13:47:27)"),
        ("fr", dt.date(2025, 12, 25), dt.date(2026, 1, 8), "25 déc. 2025 – 8 janv. 2026"),
        ("fr", dt.date(2026, 10, 1), dt.date(2026, 10, 1), "1er oct. 2026 (5 déc."),
        ("en", dt.date(2026, 12, 5), dt.date(2026, 12, 8), "5 – 8 Dec 2026 (5 Dec 13:47:27)"),
    ],
)
def test_a_runs_period_is_said_in_the_officers_language(
    lang: str, start: dt.date, end: dt.date, said: str
) -> None:
    (chart,) = charts([run(start, end)], lang)
    (bar,) = chart["bars"]
    label = bar.label.replace("\u2009", " ")  # (Babel's thin spaces around the dash)
    assert said in label, bar.label
    assert start.isoformat() not in bar.label and start.isoformat() not in chart["svg"]
