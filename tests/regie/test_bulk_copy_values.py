"""What ``regie.kit.bulk`` turns each Python value into before PostgreSQL's binary COPY
(the path only the PostgreSQL runs take): JSON documents as text, times refused unless
they carry their zone, everything else as it is; and what ``UTCDateTime`` gives back from
either driver. Pure: no database."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table
from sqlalchemy.dialects import postgresql, sqlite

from regie.kit.bulk import _copy_value
from regie.kit.database import UTCDateTime

TABLE = Table(
    "copied",
    MetaData(),
    Column("n", Integer),
    Column("label", String),
    Column("doc", JSON),
    Column("at", UTCDateTime()),
)


def test_a_json_column_is_copied_as_its_text_and_null_stays_null() -> None:
    to_copy = _copy_value(TABLE, "doc")
    assert to_copy({"amount": 1250, "lines": [1, 2]}) == '{"amount": 1250, "lines": [1, 2]}'
    assert to_copy(None) is None


def test_an_aware_time_is_copied_as_it_is_and_a_naive_one_is_refused() -> None:
    to_copy = _copy_value(TABLE, "at")
    aware = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert to_copy(aware) is aware
    assert to_copy(None) is None
    with pytest.raises(
        ValueError, match="^naive datetimes are not stored; use timezone-aware UTC$"
    ):
        to_copy(dt.datetime(2026, 12, 31, 23, 30))  # noqa: DTZ001 (the case refused)


@pytest.mark.parametrize(("column", "value"), [("n", 1250), ("label", "Facture 42")])
def test_other_columns_are_copied_as_they_are(column: str, value: object) -> None:
    assert _copy_value(TABLE, column)(value) is value


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["pg", "sqlite"])
def test_times_read_back_are_utc_whatever_the_machines_zone(
    dialect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the database hands back (aware from asyncpg, naive UTC text from SQLite) comes
    out as an aware UTC time on a server whose zone is Paris too: the API writes it with
    ``Z``, receipts convert it to the issuer's zone from UTC."""
    column = UTCDateTime()
    instant = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        from_driver = column.process_bind_param(instant, dialect)
        back = column.process_result_value(from_driver, dialect)
        paris = instant.astimezone(ZoneInfo("Europe/Paris"))  # what another driver might give
        again = column.process_result_value(paris, dialect)
    finally:
        monkeypatch.undo()
        time.tzset()
    for value in (back, again):
        assert value == instant
        assert value is not None and value.utcoffset() == dt.timedelta(0)
        assert value.isoformat() == "2026-12-31T23:30:00+00:00"
