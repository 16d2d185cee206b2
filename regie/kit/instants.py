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
