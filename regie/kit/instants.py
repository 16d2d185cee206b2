"""``Instant``: a date-time query parameter read from ISO 8601 text only.

pydantic's lax mode reads a number as seconds since 1970 (``created_lt=0.5`` was
1970-01-01T00:00:00.5Z), which the schema (``format: date-time``) does not allow and no
caller means. Numbers are refused with a 422 in the one error shape.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def _iso_text_only(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("give an ISO 8601 date-time with a time zone, e.g. 2026-11-24T00:00:00Z")
    return value


Instant = Annotated[dt.datetime, BeforeValidator(_iso_text_only)]

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_day(text: str) -> dt.date:
    """A day written ``YYYY-MM-DD`` (ASCII digits), as the pages and commands ask for it;
    raises ``ValueError`` otherwise. ``date.fromisoformat`` alone also reads ``20261031``
    and the week date ``2026-W44-6`` as 31 October."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"not a day written YYYY-MM-DD: {text!r}")
    return dt.date.fromisoformat(text)
